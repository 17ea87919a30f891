// refetch reads a Dataset's sessions again from the API, after the server said the
// opt-out list changed: the API answers redacted, so what an opted-out account wrote
// leaves the page without a reload. Posts outside any session are kept as they are.
import {getJSON} from './util.js';
import {Dataset} from './model.js';

/** refetch returns a new Dataset with data's sessions as the API has them now. */
export async function refetch(data) {
  const fresh = new Dataset();
  const read = new Set();
  for (const sid of data.sessions.keys()) {
    if (!sid) continue;
    const t = await getJSON(`/api/sessions/${encodeURIComponent(sid)}/posts`);
    read.add(sid);
    for (const p of t.posts) fresh.add(p);
  }
  for (const p of data.sorted()) if (!read.has(p.session_id || '')) fresh.add(p);
  return fresh;
}
