// Package derive turns a batch of canonical posts into the rows the processor writes:
// the posts themselves with their session and thread placement, sessions, tweetchat
// Q/A marks and participant-graph edges. Every row is keyed so that deriving and
// writing the same posts again, in any order and any batch split, stores the same
// result once the tables are read with FINAL.
//
// What each part decides, and why it does not depend on the order posts arrive in:
//
//   - session_id (package sessions): a function of the post's time and the community
//     config alone. A post in a scheduled slot gets the slot's id; any other post its
//     cell, grouped into bursts when read (view detected_sessions).
//   - root_id, depth (package threads): from the parent, read through Lookup; a reply
//     stored before its parent is placed again, with a higher version, when the parent
//     arrives.
//   - Q/A marks (package qa): from the post's text and author alone; answers are linked
//     to questions when read (views qa and qa_resolved). A reply without a numbered
//     answer to a post asking one question answers it; that mark is made when both
//     are known, whichever comes second.
//   - edges (package graph): from the post alone; weights are counted when read.
//
// Derive reads through Lookup and nothing else; it never writes.
package derive

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatnight/chatnight/ingest/lru"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/pipeline/graph"
	"github.com/chatnight/chatnight/pipeline/people"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/qa"
	"github.com/chatnight/chatnight/pipeline/segments"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// Deriver derives rows for one communities configuration.
type Deriver struct {
	cfg    *community.Config
	lookup threads.Lookup
	now    func() time.Time
	bios   *bioCache // shared by copies made by WithLookup
	cross  *crossPosts
}

// crossPosts finds the same text posted by one person's accounts (package copies): in
// the recent posts this Deriver kept (a bounded window: what is being written may not
// be readable yet) and, through the lookup, in what is stored.
//
// Only posts by accounts that may be linked at all are looked for: accounts holding
// evidence (a Bridgy Fed handle, a verified link), accounts whose id or handle some
// evidence or the config names. The stored evidence is read once, then kept up to date
// from the batches; evidence another processor stores meanwhile is seen after a restart.
type crossPosts struct {
	lookup copies.CrossPosts
	mu     sync.Mutex
	recent *lru.Cache[string, []copies.Texted] // community + text hash -> kept posts
	// loaded says the stored evidence was read; linkable are accounts holding
	// evidence, evidenceKeys the keys evidence names.
	loaded       bool
	linkable     map[string]bool
	evidenceKeys map[string]bool
}

// noteEvidence records the evidence among claims.
func (cp *crossPosts) noteEvidence(claims []people.Claim) {
	for _, c := range claims {
		if c.Reason == "" {
			continue
		}
		if c.AccountID != "" {
			cp.linkable[c.AccountID] = true
		}
		cp.evidenceKeys[c.Key] = true
	}
}

// mayBeLinked says whether the author of p may be linked to another account.
func (cp *crossPosts) mayBeLinked(p *post.Post) bool {
	if cp.linkable[p.Author.ID] {
		return true
	}
	for _, c := range people.Claims(p.Author.ID, p.Author.Handle, nil) {
		if cp.evidenceKeys[c.Key] {
			return true
		}
	}
	return false
}

// crossWindowSize bounds the texts remembered.
const crossWindowSize = 50000

// WithCrossPosts returns a copy of d that stores the same text posted by one person's
// accounts within copies.CrossPostWindow once, reading stored texts and people
// through lk.
func (d *Deriver) WithCrossPosts(lk copies.CrossPosts) *Deriver {
	c := *d
	c.cross = &crossPosts{lookup: lk, recent: lru.New[string, []copies.Texted](crossWindowSize),
		linkable: map[string]bool{}, evidenceKeys: map[string]bool{}}
	return &c
}

// bioCache remembers the segments of recent bios per community: authors post many
// times a night, and matching a bio against the rules costs a fraction of a millisecond.
type bioCache struct {
	mu    sync.Mutex
	cache *lru.Cache[string, []segments.Assignment]
}

// bioCacheSize bounds the bios remembered (about 1 KB each).
const bioCacheSize = 20000

func (c *bioCache) assign(cm *community.Community, bio string) []segments.Assignment {
	key := cm.ID + "\x00" + bio
	c.mu.Lock()
	as, ok := c.cache.Get(key)
	c.mu.Unlock()
	if ok {
		return as
	}
	as = cm.SegmentRules().Assign(bio)
	c.mu.Lock()
	c.cache.Put(key, as)
	c.mu.Unlock()
	return as
}

// New returns a Deriver. lookup reads the stored posts (threads.NewClickHouse in the
// processor); now stamps ingested_at and row versions, so it must not go backwards
// between the batches of one process, and processes should have synchronized clocks.
func New(cfg *community.Config, lookup threads.Lookup, now func() time.Time) *Deriver {
	if now == nil {
		now = time.Now
	}
	return &Deriver{cfg: cfg, lookup: lookup, now: now, bios: &bioCache{cache: lru.New[string, []segments.Assignment](bioCacheSize)}}
}

// Lookup returns what d reads stored posts through.
func (d *Deriver) Lookup() threads.Lookup { return d.lookup }

// WithLookup returns a copy of d that reads stored posts through lk (the processor
// wraps its Lookup in a threads.Overlay to derive a batch while the previous one is
// being written).
func (d *Deriver) WithLookup(lk threads.Lookup) *Deriver {
	c := *d
	c.lookup = lk
	return &c
}

// Result is what Derive makes of a batch.
type Result struct {
	// Batch is what storage.Writer.Write must insert.
	Batch *storage.Batch
	// Live describes each post of the batch, in input order (a post given twice is
	// described once), followed by the stored posts the batch placed again in their
	// threads (Rethreaded set). It is what the live view needs once the batch is written.
	Live []Live
	// Orphans are the batch's replies whose parent was neither in the batch nor stored:
	// they are placed provisionally until the parent arrives.
	Orphans []Orphan
}

// Orphan is a reply derived without its parent.
type Orphan struct{ Community, ID, ParentID string }

// Live is the compact description of a post for live events.
type Live struct {
	Community string
	PostID    string
	SessionID string // "" outside every session
	RootID    string
	Depth     uint16
	IsHost    bool
	Marks     []LiveMark // Q/A/T marks the post carries (explicit and implied)
	// Rethreaded is set for a stored post whose thread placement this batch corrected.
	Rethreaded bool
}

// LiveMark is one Q/A/T mark of a post.
type LiveMark struct {
	Kind   qa.Kind
	Number uint16
}

// Derive returns the rows for posts; see DeriveLive.
func (d *Deriver) Derive(ctx context.Context, posts []*post.Post) (*storage.Batch, error) {
	res, err := d.DeriveLive(ctx, posts)
	if err != nil {
		return nil, err
	}
	return res.Batch, nil
}

// DeriveLive returns the rows for posts, and what the live view needs of each. Posts
// must be valid and normalized (post.Decode does both). The same post (community and
// id) given twice is derived once, from its last copy. The batch also holds stored
// posts placed anew in their threads (with a higher version, same session_id), and
// the Q/A marks and reply edges their new parent implies.
func (d *Deriver) DeriveLive(ctx context.Context, posts []*post.Post) (*Result, error) {
	now := d.now().UTC()
	version := uint64(now.UnixNano())

	posts, copyRows, bridged, err := d.bridged(ctx, posts, version)
	if err != nil {
		return nil, err
	}
	seen := posts
	posts, crossRows, linked, err := d.crossPosted(ctx, posts, bridged, version)
	if err != nil {
		return nil, err
	}
	personRows, err := d.personRows(ctx, seen, linked, version)
	if err != nil {
		return nil, err
	}
	copyRows = append(copyRows, crossRows...)
	// Dedupe, keeping the last copy at the place of the first; a post beats a bridged
	// copy of it.
	type key struct{ community, id string }
	index := make(map[key]int, len(posts))
	uniq := make([]*post.Post, 0, len(posts))
	for _, p := range posts {
		k := key{p.Community, p.ID}
		if i, ok := index[k]; ok {
			if !bridged[p] || bridged[uniq[i]] {
				uniq[i] = p
			}
			continue
		}
		index[k] = len(uniq)
		uniq = append(uniq, p)
	}

	b := &storage.Batch{Posts: make([]storage.PostRow, len(uniq)), Copies: copyRows, People: personRows}
	res := &Result{Batch: b, Live: make([]Live, 0, len(uniq))}
	comms := map[string]*community.Community{}
	byCommunity := map[string][]*storage.PostRow{}
	var order []string
	sessionSeen := map[string]bool{}
	for i, p := range uniq {
		cm := d.communityOf(p.Community, comms)
		row := &b.Posts[i]
		*row = PostRow(p)
		row.IngestedAt, row.Version = now, version
		row.IsHost = cm.IsHost(p.Network(), p.Author.Handle)
		if s := sessions.At(cm, p.CreatedAt); s != nil {
			row.SessionID = s.ID
			if !sessionSeen[s.ID] {
				sessionSeen[s.ID] = true
				b.Sessions = append(b.Sessions, s.Row(version))
			}
		}
		if byCommunity[p.Community] == nil {
			order = append(order, p.Community)
		}
		byCommunity[p.Community] = append(byCommunity[p.Community], row)
	}

	// Threads, community by community.
	placed := map[string]*threads.Result{}
	for _, c := range order {
		r, err := threads.Place(ctx, d.lookup, c, byCommunity[c])
		if err != nil {
			return nil, err
		}
		placed[c] = r
	}

	// Marks and edges of the batch posts.
	for i := range b.Posts {
		row := &b.Posts[i]
		cm := comms[row.Community]
		parent := placed[row.Community].Parents[row.ReplyToID]
		if parent == nil && row.ReplyToID != "" && row.ReplyToID != row.ID {
			res.Orphans = append(res.Orphans, Orphan{Community: row.Community, ID: row.ID, ParentID: row.ReplyToID})
		}
		marks := qa.ForPost(uniq[i], cm)
		if row.SessionID != "" {
			marks = withImplied(marks, row, parent, cm)
			b.QAMarks = append(b.QAMarks, qa.Rows(row, marks, version)...)
		} else {
			marks = nil // marks outside a session have nothing to link to
		}
		parentAuthor := ""
		if parent != nil {
			parentAuthor = parent.AuthorID
		}
		b.Edges = append(b.Edges, graph.Rows(row, graph.Edges(row, parentAuthor), version)...)
		if row.ReplyToAuthorID == "" {
			// After the edges: which mentions count must not depend on the parent being
			// known (see package graph).
			row.ReplyToAuthorID = parentAuthor
		}
		res.Live = append(res.Live, live(row, marks, false))
	}
	b.Segments, b.Claims = d.accountRows(uniq, comms, version)
	b.Texts = d.textRows(uniq, linked)

	// Stored posts placed again, and what their new parent implies for them.
	for _, c := range order {
		r := placed[c]
		for i := range r.Moved {
			m := r.Moved[i]
			m.Version = max(version, r.StoredVersion[m.ID]+1)
			b.Posts = append(b.Posts, m)
		}
		cm := comms[c]
		for _, a := range r.Adopted {
			child := a.Child
			var marks, extra []qa.Mark
			if child.SessionID != "" {
				marks = withImplied(qa.ForRow(child, cm), child, a.Parent, cm)
				extra = implied(marks)
				b.QAMarks = append(b.QAMarks, qa.Rows(child, extra, version)...)
			}
			if a.Moved {
				// The reply edge may have lacked its destination when the child was
				// written; writing it again is harmless (same key).
				b.Edges = append(b.Edges, graph.Rows(child, onlyReplies(graph.Edges(child, a.Parent.AuthorID)), version)...)
			}
			if a.Moved || len(extra) > 0 {
				res.Live = append(res.Live, live(child, marks, a.Moved))
			}
		}
		for i := range r.Moved {
			if !adopted(r.Adopted, r.Moved[i].ID) {
				m := &r.Moved[i]
				var marks []qa.Mark
				if m.SessionID != "" {
					marks = qa.ForRow(m, cm)
				}
				res.Live = append(res.Live, live(m, marks, true))
			}
		}
	}
	return res, nil
}

// bridged replaces each bridged copy among posts by the post it copies (package
// copies) and returns the copies' rows. A copy whose original is stored (or waiting to
// be) adds only its copies row. A copy that comes first stands in for its original,
// under the original's id, author and, for the copies' time to match, the copy's
// time: an original arriving after it takes the stored time (and follower count), so
// it replaces the stand-in rather than adding a second row. bridged marks the
// stand-ins.
func (d *Deriver) bridged(ctx context.Context, posts []*post.Post, version uint64) ([]*post.Post, []storage.CopyRow, map[*post.Post]bool, error) {
	var rows []storage.CopyRow
	marked := map[*post.Post]bool{}
	ids := map[string][]string{} // community -> ids whose stored row matters
	out := make([]*post.Post, 0, len(posts))
	for _, p := range posts {
		o, c, ok := copies.Bridged(p)
		if !ok {
			if n := p.Network(); n == "bluesky" || n == "mastodon" {
				// A copy may have stood in for it (either way round): it takes the
				// stand-in's time.
				ids[p.Community] = append(ids[p.Community], p.ID)
			}
			out = append(out, p)
			continue
		}
		rows = append(rows, storage.CopyRow{Community: p.Community, PostID: o.ID, Network: c.Network, CopyID: c.ID,
			URL: c.URL, CreatedAt: p.CreatedAt, Version: version})
		marked[o] = true
		ids[p.Community] = append(ids[p.Community], o.ID)
		out = append(out, o)
	}
	out, err := d.copyRefs(ctx, out, rows, marked)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(rows) == 0 && len(ids) == 0 {
		return out, nil, nil, nil
	}
	stored := map[[2]string]storage.PostRow{}
	for c, list := range ids {
		found, err := d.lookup.Posts(ctx, c, list)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("look up stored originals of bridged copies: %w", err)
		}
		for _, r := range found {
			stored[[2]string{c, r.ID}] = r
		}
	}
	if len(stored) == 0 {
		return out, rows, marked, nil
	}
	kept := out[:0]
	for _, p := range out {
		r, ok := stored[[2]string{p.Community, p.ID}]
		switch {
		case ok && marked[p]:
			continue // the original (or this copy) is stored already
		case ok && (!r.CreatedAt.Equal(p.CreatedAt) || r.AuthorFollowers != p.Author.Followers):
			// It replaces the stored row (a stand-in, or itself seen before) in
			// place: same time, and the same follower count, which the write-time
			// aggregates key on, so it is still counted once.
			moved := *p
			moved.CreatedAt, moved.Author.Followers = r.CreatedAt, r.AuthorFollowers
			p = &moved
		}
		kept = append(kept, p)
	}
	return kept, rows, marked, nil
}

// personRows store, for SQL (chatnight.account_people), the people that the authors
// of posts who may be linked (linked) belong to, as package people resolves them with
// the batch's own claims: a row for every account of each person of several accounts.
func (d *Deriver) personRows(ctx context.Context, posts []*post.Post, linked map[*post.Post]bool, version uint64) ([]storage.PersonRow, error) {
	if d.cross == nil || len(linked) == 0 {
		return nil, nil
	}
	var ids []string
	var extra []people.Claim
	seen := map[string]bool{}
	for _, p := range posts {
		if linked[p] && !seen[p.Author.ID] {
			seen[p.Author.ID] = true
			ids = append(ids, p.Author.ID)
			extra = append(extra, people.Claims(p.Author.ID, p.Author.Handle, p.Author.VerifiedLinks)...)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	sort.Strings(ids)
	m, err := d.cross.lookup.People(ctx, ids, extra)
	if err != nil {
		return nil, fmt.Errorf("link the batch's authors into people: %w", err)
	}
	var rows []storage.PersonRow
	for _, p := range m.Linked() {
		for _, a := range p.Accounts {
			rows = append(rows, storage.PersonRow{AccountID: a, PersonID: p.ID, Why: p.Why, Version: version})
		}
	}
	return rows, nil
}

// copyRefs points the references of posts (reply, root, quote, repost) to Bluesky
// copies of fediverse statuses at the statuses: the copies are stored as the statuses
// (package copies), so a reply to one is a reply to the status. Copies are found among
// rows (this batch's) and, with cross-posts enabled, in chatnight.post_copies. A post
// changed is copied, keeping its mark in marked.
func (d *Deriver) copyRefs(ctx context.Context, posts []*post.Post, rows []storage.CopyRow, marked map[*post.Post]bool) ([]*post.Post, error) {
	type key struct{ community, id string }
	orig := map[key]string{}
	for _, r := range rows {
		orig[key{r.Community, r.CopyID}] = r.PostID
	}
	refs := func(p *post.Post) []*string { return []*string{&p.ReplyToID, &p.RootID, &p.QuoteOfID, &p.RepostOfID} }
	if d.cross != nil {
		ask := map[string][]string{}
		for _, p := range posts {
			for _, r := range refs(p) {
				if k := (key{p.Community, *r}); strings.HasPrefix(*r, "bluesky:") && orig[k] == "" && !slices.Contains(ask[p.Community], *r) {
					ask[p.Community] = append(ask[p.Community], *r)
				}
			}
		}
		for c, list := range ask {
			found, err := d.cross.lookup.Originals(ctx, c, list)
			if err != nil {
				return nil, fmt.Errorf("look up the posts that replies' parents copy: %w", err)
			}
			for cp, o := range found {
				orig[key{c, cp}] = o
			}
		}
	}
	if len(orig) == 0 {
		return posts, nil
	}
	for i, p := range posts {
		var cp *post.Post
		for j, r := range refs(p) {
			o := orig[key{p.Community, *r}]
			if o == "" || o == p.ID {
				continue
			}
			if cp == nil {
				c := *p
				cp = &c
			}
			*refs(cp)[j] = o
			// The author named beside the reference is the copy's bridged account.
			switch j {
			case 0:
				cp.ReplyToAuthorID = copies.AuthorOf(o)
			case 2:
				cp.QuoteOfAuthorID = copies.AuthorOf(o)
			case 3:
				cp.RepostOfAuthorID = copies.AuthorOf(o)
			}
		}
		if cp != nil {
			if marked[p] {
				delete(marked, p)
				marked[cp] = true
			}
			posts[i] = cp
		}
	}
	return posts, nil
}

// crossPostable says whether p can be a cross-post: a post of its own with text.
func crossPostable(p *post.Post) bool {
	return p.Kind != post.KindRepost && strings.TrimSpace(p.Text) != ""
}

// crossPosted drops each post whose text one of its author's other accounts (same
// person) posted within copies.CrossPostWindow in a post kept earlier (remembered,
// stored, or earlier in this batch by time), and returns the copies rows saying where
// else those posts appeared. Whichever was stored first stays the post, so delivering
// either again changes nothing.
//
// linked marks the posts whose authors may be linked: only their texts are stored for
// later look-ups (every text is remembered in the window).
func (d *Deriver) crossPosted(ctx context.Context, posts []*post.Post, bridged map[*post.Post]bool, version uint64) (_ []*post.Post, _ []storage.CopyRow, linked map[*post.Post]bool, _ error) {
	if d.cross == nil || len(posts) == 0 {
		return posts, nil, nil, nil
	}
	cp := d.cross
	cp.mu.Lock()
	if !cp.loaded {
		ev, err := cp.lookup.Evidence(ctx)
		if err != nil {
			cp.mu.Unlock()
			return nil, nil, nil, err
		}
		cp.noteEvidence(ev)
		cp.loaded = true
	}
	for _, p := range posts {
		cp.noteEvidence(people.Claims(p.Author.ID, p.Author.Handle, p.Author.VerifiedLinks))
	}
	linked = map[*post.Post]bool{}
	for _, p := range posts {
		linked[p] = cp.mayBeLinked(p)
	}
	cp.mu.Unlock()
	type span struct{ from, to time.Time }
	hashes := map[string]map[uint64]bool{}
	spans := map[string]*span{}
	var candidates, texted []*post.Post
	for _, p := range posts {
		if !crossPostable(p) || bridged[p] {
			continue
		}
		// Every post's text is remembered (its twin may come from an account that is
		// found to be linked later); only linked accounts' posts are looked for.
		texted = append(texted, p)
		if !linked[p] {
			continue
		}
		candidates = append(candidates, p)
		if hashes[p.Community] == nil {
			hashes[p.Community] = map[uint64]bool{}
			spans[p.Community] = &span{p.CreatedAt, p.CreatedAt}
		}
		hashes[p.Community][copies.TextHash(p.Text)] = true
		sp := spans[p.Community]
		if p.CreatedAt.Before(sp.from) {
			sp.from = p.CreatedAt
		}
		if p.CreatedAt.After(sp.to) {
			sp.to = p.CreatedAt
		}
	}
	if len(candidates) == 0 {
		d.remember(texted)
		return posts, nil, linked, nil
	}
	// Everything known with the same texts: stored, remembered.
	known := map[string][]copies.Texted{} // community + hash
	key := func(c string, h uint64) string { return c + "\x00" + strconv.FormatUint(h, 16) }
	cp.mu.Lock()
	for c, hs := range hashes {
		for h := range hs {
			if r, ok := cp.recent.Get(key(c, h)); ok {
				known[key(c, h)] = append(known[key(c, h)], r...)
			}
		}
	}
	cp.mu.Unlock()
	for c, hs := range hashes {
		list := make([]uint64, 0, len(hs))
		for h := range hs {
			list = append(list, h)
		}
		sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
		sp := spans[c]
		stored, err := cp.lookup.SameText(ctx, c, list, sp.from.Add(-copies.CrossPostWindow), sp.to.Add(copies.CrossPostWindow))
		if err != nil {
			return nil, nil, nil, err
		}
		for _, t := range stored {
			known[key(c, t.TextHash)] = append(known[key(c, t.TextHash)], t)
		}
	}
	// Who is one person: the authors concerned, with the batch's own claims.
	accounts := map[string]bool{}
	var extra []people.Claim
	for _, p := range candidates {
		if !accounts[p.Author.ID] {
			accounts[p.Author.ID] = true
			extra = append(extra, people.Claims(p.Author.ID, p.Author.Handle, p.Author.VerifiedLinks)...)
		}
	}
	matched := false
	for _, p := range candidates {
		for _, t := range known[key(p.Community, copies.TextHash(p.Text))] {
			if t.AuthorID != p.Author.ID {
				accounts[t.AuthorID], matched = true, true
			}
		}
	}
	batchTwins := false
	seen := map[string]string{}
	for _, p := range candidates {
		k := key(p.Community, copies.TextHash(p.Text))
		if a, ok := seen[k]; ok && a != p.Author.ID {
			batchTwins = true
		}
		seen[k] = p.Author.ID
	}
	if !matched && !batchTwins {
		d.remember(texted)
		return posts, nil, linked, nil
	}
	ids := make([]string, 0, len(accounts))
	for a := range accounts {
		ids = append(ids, a)
	}
	sort.Strings(ids)
	m, err := cp.lookup.People(ctx, ids, extra)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("link the authors of possible cross-posts: %w", err)
	}
	// In time order, each post is a copy of an earlier kept one by the same person.
	order := append([]*post.Post(nil), candidates...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].CreatedAt.Before(order[j].CreatedAt) })
	dropped := map[*post.Post]bool{}
	var rows []storage.CopyRow
	for _, p := range order {
		k := key(p.Community, copies.TextHash(p.Text))
		var canon *copies.Texted
		for i := range known[k] {
			t := &known[k][i]
			if t.ID == p.ID {
				canon = nil // this post is stored already: it is the kept one
				break
			}
			if t.AuthorID != p.Author.ID && m.Of(t.AuthorID) == m.Of(p.Author.ID) &&
				absDuration(t.CreatedAt.Sub(p.CreatedAt)) <= copies.CrossPostWindow && canon == nil {
				canon = t
			}
		}
		if canon != nil {
			dropped[p] = true
			network := p.Network()
			rows = append(rows, storage.CopyRow{Community: p.Community, PostID: canon.ID, Network: network, CopyID: p.ID,
				URL: p.URL, CreatedAt: p.CreatedAt, Version: version})
			continue
		}
		known[k] = append(known[k], copies.Texted{Community: p.Community, TextHash: copies.TextHash(p.Text), CreatedAt: p.CreatedAt, ID: p.ID, AuthorID: p.Author.ID})
	}
	kept := make([]*post.Post, 0, len(posts))
	var keptCandidates []*post.Post
	for _, p := range posts {
		if dropped[p] {
			continue
		}
		kept = append(kept, p)
		if crossPostable(p) && !bridged[p] {
			keptCandidates = append(keptCandidates, p)
		}
	}
	d.remember(keptCandidates)
	return kept, rows, linked, nil
}

// remember adds kept posts to the window of recent texts.
func (d *Deriver) remember(posts []*post.Post) {
	cp := d.cross
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, p := range posts {
		h := copies.TextHash(p.Text)
		k := p.Community + "\x00" + strconv.FormatUint(h, 16)
		list, _ := cp.recent.Get(k)
		dup := false
		for _, t := range list {
			dup = dup || t.ID == p.ID
		}
		if dup {
			continue
		}
		if len(list) >= 8 {
			list = list[1:]
		}
		cp.recent.Put(k, append(list, copies.Texted{Community: p.Community, TextHash: h, CreatedAt: p.CreatedAt, ID: p.ID, AuthorID: p.Author.ID}))
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// textRows index the batch's posts of linked authors by text, for finding cross-posts
// later.
func (d *Deriver) textRows(posts []*post.Post, linked map[*post.Post]bool) []storage.TextRow {
	if d.cross == nil {
		return nil
	}
	var out []storage.TextRow
	for _, p := range posts {
		if crossPostable(p) && linked[p] {
			out = append(out, storage.TextRow{Community: p.Community, TextHash: copies.TextHash(p.Text), CreatedAt: p.CreatedAt, ID: p.ID, AuthorID: p.Author.ID})
		}
	}
	return out
}

// accountRows are the segments and identity claims of the authors of posts: segments
// from the bio of each author's newest post that has one (by its community's rules),
// claims from the author's id, handle and verified links. A segment row's version is
// the time of that post, so the newest bio wins whatever order posts are written in.
func (d *Deriver) accountRows(posts []*post.Post, comms map[string]*community.Community, version uint64) ([]storage.SegmentRow, []storage.ClaimRow) {
	type key struct{ community, account string }
	newest := map[key]*post.Post{}
	var order []key
	claimed := map[string]bool{}
	var claims []storage.ClaimRow
	for _, p := range posts {
		a := &p.Author
		if a.ID == "" {
			continue
		}
		if a.Bio != "" {
			k := key{p.Community, a.ID}
			if n, ok := newest[k]; !ok {
				order = append(order, k)
				newest[k] = p
			} else if p.CreatedAt.After(n.CreatedAt) {
				newest[k] = p
			}
		}
		for _, c := range people.Claims(a.ID, a.Handle, a.VerifiedLinks) {
			ck := c.AccountID + "\x00" + c.Key
			if claimed[ck] {
				continue
			}
			claimed[ck] = true
			claims = append(claims, storage.ClaimRow{AccountID: c.AccountID, Claim: c.Key, Reason: c.Reason, Version: version})
		}
	}
	segs := make([]storage.SegmentRow, 0, len(order))
	for _, k := range order {
		p := newest[k]
		row := storage.SegmentRow{Community: k.community, AccountID: k.account, Segments: []string{}, Reasons: []string{},
			Version: uint64(p.CreatedAt.UnixMilli())}
		for _, as := range d.bios.assign(comms[k.community], p.Author.Bio) {
			row.Segments = append(row.Segments, as.Segment)
			row.Reasons = append(row.Reasons, as.Reason)
		}
		segs = append(segs, row)
	}
	return segs, claims
}

// communityOf returns the configured community, or for a community missing from the
// config one without schedule or hosts.
func (d *Deriver) communityOf(id string, cache map[string]*community.Community) *community.Community {
	if cm, ok := cache[id]; ok {
		return cm
	}
	cm, ok := d.cfg.Lookup(id)
	if !ok {
		cm = &community.Community{ID: id, SessionGap: community.DefaultSessionGap}
	}
	cache[id] = cm
	return cm
}

// impliedStart marks (as Start and End) an answer made from the reply structure rather
// than from the text.
const impliedStart = -1

// withImplied adds the answer implied by replying to a question: a reply (not by the
// question's author) with no numbered answer of its own, to a post asking exactly one
// question in the same session, answers that question.
func withImplied(marks []qa.Mark, row *storage.PostRow, parent *storage.PostRow, cm *community.Community) []qa.Mark {
	if parent == nil || row.ReplyToID == "" || row.Kind == string(post.KindRepost) ||
		parent.SessionID != row.SessionID || parent.AuthorID == row.AuthorID {
		return marks
	}
	for _, m := range marks {
		if m.Kind == qa.Answer {
			return marks
		}
	}
	if qa.IsManualRetweet(row.Text) {
		return marks
	}
	n, ok := qa.QuestionNumber(parent, cm)
	if !ok {
		return marks
	}
	return append(marks, qa.Mark{Kind: qa.Answer, Number: n, Start: impliedStart, End: impliedStart})
}

func implied(marks []qa.Mark) []qa.Mark {
	var out []qa.Mark
	for _, m := range marks {
		if m.Start == impliedStart {
			out = append(out, m)
		}
	}
	return out
}

func onlyReplies(edges []graph.Edge) []graph.Edge {
	var out []graph.Edge
	for _, e := range edges {
		if e.Kind == graph.KindReply {
			out = append(out, e)
		}
	}
	return out
}

func adopted(as []threads.Adoption, id string) bool {
	for _, a := range as {
		if a.Child.ID == id {
			return true
		}
	}
	return false
}

func live(row *storage.PostRow, marks []qa.Mark, rethreaded bool) Live {
	l := Live{
		Community: row.Community, PostID: row.ID, SessionID: row.SessionID,
		RootID: row.RootID, Depth: row.Depth, IsHost: row.IsHost, Rethreaded: rethreaded,
	}
	for _, m := range marks {
		l.Marks = append(l.Marks, LiveMark{Kind: m.Kind, Number: uint16(m.Number)})
	}
	sort.Slice(l.Marks, func(i, j int) bool {
		if l.Marks[i].Kind != l.Marks[j].Kind {
			return l.Marks[i].Kind < l.Marks[j].Kind
		}
		return l.Marks[i].Number < l.Marks[j].Number
	})
	return l
}

// PostRow maps a canonical post to its posts-table row, without derived fields.
func PostRow(p *post.Post) storage.PostRow {
	row := storage.PostRow{
		ID:               p.ID,
		Community:        p.Community,
		Source:           string(p.Source),
		Kind:             string(p.Kind),
		AuthorID:         p.Author.ID,
		AuthorHandle:     p.Author.Handle,
		AuthorName:       p.Author.Name,
		AuthorFollowers:  p.Author.Followers,
		CreatedAt:        p.CreatedAt,
		Text:             p.Text,
		Lang:             p.Lang,
		URL:              p.URL,
		ReplyToID:        p.ReplyToID,
		ReplyToAuthorID:  p.ReplyToAuthorID,
		RootID:           p.RootID,
		QuoteOfID:        p.QuoteOfID,
		QuoteOfAuthorID:  p.QuoteOfAuthorID,
		RepostOfID:       p.RepostOfID,
		RepostOfAuthorID: p.RepostOfAuthorID,
		MentionIDs:       make([]string, len(p.Mentions)),
		MentionHandles:   make([]string, len(p.Mentions)),
		Hashtags:         p.Hashtags,
		URLs:             p.URLs,
		Raw:              string(segments.StripBios(p.Raw)), // the bio gave its segments; only they are kept
	}
	for i, m := range p.Mentions {
		row.MentionIDs[i], row.MentionHandles[i] = m.ID, m.Handle
	}
	if row.Hashtags == nil {
		row.Hashtags = []string{}
	}
	if row.URLs == nil {
		row.URLs = []string{}
	}
	return row
}
