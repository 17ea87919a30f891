package mastodon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest"
	"github.com/chatnight/chatnight/pipeline/community"
)

// testCommunities route #hcldr and #hitsm.
var testCommunities = []community.Community{
	{ID: "hcldr", Name: "#HCLDR", Hashtags: []string{"HCLDR"}},
	{ID: "hitsm", Name: "#HITsm", Hashtags: []string{"hitsm"}},
}

// fakeStatus is a status as one instance knows it.
type fakeStatus struct {
	LocalID   string // the instance's id; also orders the timeline
	URI       string
	Acct      string // as this instance writes it: "user" for its own accounts
	Domain    string // the account's home domain (for its profile url); "" takes it from Acct
	AccountID string
	Created   time.Time
	Tags      []string
	Text      string
	ReplyTo   string // local id of the parent
	ReplyAcct string // local account id of the parent's author
	Raw       string // sent verbatim instead of the generated JSON when set
}

func (s fakeStatus) json(host string) json.RawMessage {
	if s.Raw != "" {
		return json.RawMessage(s.Raw)
	}
	user, _, _ := strings.Cut(s.Acct, "@")
	domain := host
	if _, d, ok := strings.Cut(s.Acct, "@"); ok {
		domain = d
	}
	if s.Domain != "" {
		domain = s.Domain
	}
	var tags []map[string]string
	content := "<p>" + s.Text
	for _, t := range s.Tags {
		tags = append(tags, map[string]string{"name": strings.ToLower(t), "url": "https://" + host + "/tags/" + strings.ToLower(t)})
		content += fmt.Sprintf(` <a href="https://%s/tags/%s" class="mention hashtag" rel="tag">#<span>%s</span></a>`, domain, t, t)
	}
	content += "</p>"
	st := map[string]any{
		"id":                     s.LocalID,
		"created_at":             s.Created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"in_reply_to_id":         nullable(s.ReplyTo),
		"in_reply_to_account_id": nullable(s.ReplyAcct),
		"sensitive":              false,
		"spoiler_text":           "",
		"visibility":             "public",
		"language":               "en",
		"uri":                    s.URI,
		"url":                    strings.Replace(s.URI, "/users/"+user+"/statuses/", "/@"+user+"/", 1),
		"content":                content,
		"reblog":                 nil,
		"account": map[string]any{
			"id": s.AccountID, "username": user, "acct": s.Acct, "display_name": strings.ToUpper(user[:1]) + user[1:],
			"url": "https://" + domain + "/@" + user, "followers_count": 10,
		},
		"media_attachments": []any{},
		"mentions":          []any{},
		"tags":              tags,
		"emojis":            []any{},
		"card":              nil,
		"poll":              nil,
	}
	b, _ := json.Marshal(st)
	return b
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// fakeInstance speaks the parts of the Mastodon API the sources use.
type fakeInstance struct {
	t    *testing.T
	srv  *httptest.Server
	host string

	mu       sync.Mutex
	statuses []fakeStatus // ascending by LocalID
	requests []string     // path?query of every request
	auth     []string     // Authorization headers seen
	// intercept, when set, may answer a request itself (return true).
	intercept func(w http.ResponseWriter, r *http.Request, n int) bool
	// stream answers /api/v1/streaming/hashtag; conn counts connections from 1.
	stream func(w http.ResponseWriter, r *http.Request, conn int)
	conns  int
}

// newFakeTimeline is a fake healthcare.example with n statuses from t0 on, all tagged.
func newFakeTimeline(t *testing.T, n int) (*fakeInstance, []fakeStatus) {
	inst := newFakeInstance(t)
	ss := makeStatuses(n, "healthcare.example", t0, 1)
	inst.add(ss...)
	return inst, ss
}

func newFakeInstance(t *testing.T) *fakeInstance {
	f := &fakeInstance{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	u, _ := url.Parse(f.srv.URL)
	f.host = u.Host
	return f
}

func (f *fakeInstance) add(ss ...fakeStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, ss...)
	slices.SortFunc(f.statuses, func(a, b fakeStatus) int { return ingest.CompareIDs(a.LocalID, b.LocalID) })
}

func (f *fakeInstance) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeInstance) authLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.auth)
}

func (f *fakeInstance) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	n := len(f.requests)
	intercept, stream := f.intercept, f.stream
	f.mu.Unlock()
	if intercept != nil && intercept(w, r, n) {
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v1/timelines/tag/"):
		f.timeline(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/v1/statuses/"):
		f.status(w, strings.TrimPrefix(r.URL.Path, "/api/v1/statuses/"))
	case r.URL.Path == "/api/v1/streaming/hashtag" && stream != nil:
		f.mu.Lock()
		f.conns++
		conn := f.conns
		f.mu.Unlock()
		stream(w, r, conn)
	default:
		http.Error(w, `{"error":"Record not found"}`, http.StatusNotFound)
	}
}

// timeline pages like Mastodon: newest first; with min_id the page right after it.
func (f *fakeInstance) timeline(w http.ResponseWriter, r *http.Request) {
	tag := strings.ToLower(strings.TrimPrefix(r.URL.Path, "/api/v1/timelines/tag/"))
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 40 {
		limit = 20
	}
	minID := q.Get("min_id")
	f.mu.Lock()
	var match []fakeStatus
	for _, s := range f.statuses {
		if slices.ContainsFunc(s.Tags, func(t string) bool { return strings.EqualFold(t, tag) }) && (minID == "" || ingest.CompareIDs(s.LocalID, minID) > 0) {
			match = append(match, s)
		}
	}
	f.mu.Unlock()
	if minID != "" {
		match = match[:min(limit, len(match))] // the oldest after min_id
	} else {
		match = match[max(0, len(match)-limit):] // the newest
	}
	slices.Reverse(match)
	page := make([]json.RawMessage, len(match))
	for i, s := range match {
		page[i] = s.json(f.host)
	}
	if len(match) > 0 {
		base := "http://" + r.Host + r.URL.Path
		w.Header().Add("Link", fmt.Sprintf(`<%s?limit=%d&max_id=%s>; rel="next", <%s?limit=%d&min_id=%s>; rel="prev"`,
			base, limit, match[len(match)-1].LocalID, base, limit, match[0].LocalID))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(page)
}

func (f *fakeInstance) status(w http.ResponseWriter, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.statuses {
		if s.LocalID == id {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(s.json(f.host))
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, `{"error":"Record not found"}`)
}

// makeStatuses makes n #hcldr statuses with increasing snowflake ids on host, the
// i-th by a remote account when remote is set.
func makeStatuses(n int, origin string, start time.Time, idBase uint64) []fakeStatus {
	out := make([]fakeStatus, n)
	for i := range out {
		created := start.Add(time.Duration(i) * time.Second)
		out[i] = fakeStatus{
			LocalID:   snowflake(created, idBase),
			URI:       fmt.Sprintf("https://%s/users/user%d/statuses/%d", origin, i%7, 1000+i),
			Acct:      fmt.Sprintf("user%d@%s", i%7, origin),
			Domain:    origin,
			AccountID: strconv.Itoa(500 + i%7),
			Created:   created,
			Tags:      []string{"HCLDR"},
			Text:      fmt.Sprintf("A%d: answer number %d", i%5+1, i),
		}
	}
	return out
}

// snowflake is a Mastodon id for t; salt makes two instances' ids differ.
func snowflake(t time.Time, salt uint64) string {
	return strconv.FormatUint(uint64(t.UnixMilli())<<16|salt&0xffff, 10)
}

// ingestCursorsStub satisfies constructors that only check for a cursor store.
var ingestCursorsStub ingest.Cursors
