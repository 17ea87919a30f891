package xapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/ingest/lines"
	"github.com/chatnight/chatnight/pipeline/post"
)

// checkPost compares got and want field by field (Raw is checked apart: it must be a
// JSON object holding the tweet id).
func checkPost(t *testing.T, got, want *post.Post) {
	t.Helper()
	if got == nil {
		t.Fatalf("post %s missing", want.ID)
	}
	gv, wv := reflect.ValueOf(*got), reflect.ValueOf(*want)
	for i := 0; i < gv.NumField(); i++ {
		name := gv.Type().Field(i).Name
		if name == "Raw" {
			continue
		}
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if gt, ok := g.(time.Time); ok {
			if !gt.Equal(w.(time.Time)) || gt.Location() != time.UTC {
				t.Errorf("%s: %s = %v, want %v (UTC)", want.ID, name, gt, w)
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %s = %#v, want %#v", want.ID, name, g, w)
		}
	}
	if !json.Valid(got.Raw) || !bytes.Contains(got.Raw, []byte(strings.TrimPrefix(want.ID, "x:"))) {
		t.Errorf("%s: Raw is not the tweet JSON: %.80s", want.ID, got.Raw)
	}
}

func byID(posts []*post.Post) map[string]*post.Post {
	m := map[string]*post.Post{}
	for _, p := range posts {
		m[p.ID] = p
	}
	return m
}

func ids(posts []*post.Post) []string {
	var out []string
	for _, p := range posts {
		out = append(out, p.ID)
	}
	return out
}

// golden compares the posts (without Raw) with testdata/golden/name, or rewrites it
// with -update.
func golden(t *testing.T, name string, posts []*post.Post) {
	t.Helper()
	ingesttest.Golden(t, name, ingesttest.PostsLines(t, posts))
}

var ts = ingesttest.Time

func TestParseV2SearchPage(t *testing.T) {
	raw, err := os.ReadFile("testdata/search_page.json")
	if err != nil {
		t.Fatal(err)
	}
	posts, err := ParseV2(raw, post.SourceImport)
	if err != nil {
		t.Fatalf("ParseV2: %v", err)
	}
	wantOrder := []string{"x:1780380000000000101", "x:1780380000000000102", "x:1780370000000000050", "x:1780380000000000103", "x:1780380000000000104"}
	if got := ids(posts); !reflect.DeepEqual(got, wantOrder) {
		t.Fatalf("post ids = %v, want %v (the retweet's original follows it; the quoted tweet is not emitted)", got, wantOrder)
	}
	carol := post.Account{ID: "x:9001", Handle: "carol_md", Name: "Carol 🩺 MD", Followers: 12034}
	bob := post.Account{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN", Followers: 512}
	want := []*post.Post{
		{
			ID: "x:1780380000000000101", Source: post.SourceImport, Kind: post.KindOriginal, Author: carol,
			CreatedAt: ts("2024-04-17T00:30:05Z"),
			Text:      "T1 Welcome to #HCLDR! Tonight @bob_rn leads us on patient voice & trust https://t.co/aaa111",
			Lang:      "en", URL: "https://x.com/carol_md/status/1780380000000000101",
			RootID:   "x:1780380000000000101",
			Mentions: []post.Account{{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN"}},
			Hashtags: []string{"hcldr"},
			URLs:     []string{"https://example.org/hcldr/topic"},
		},
		{
			ID: "x:1780380000000000102", Source: post.SourceImport, Kind: post.KindRepost,
			Author:    post.Account{ID: "x:9003", Handle: "dave_it", Name: "Dave"},
			CreatedAt: ts("2024-04-17T00:31:00Z"),
			Text:      "RT @bob_rn: Leaders: what would change if patients sat on every board? Long thought thread ahead for #hc…",
			Lang:      "en", URL: "https://x.com/dave_it/status/1780380000000000102",
			RootID:     "x:1780380000000000102",
			RepostOfID: "x:1780370000000000050", RepostOfAuthorID: "x:9002",
			Mentions: []post.Account{{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN"}},
			// the cut text lost #hcldr; the original's tags are carried over
			Hashtags: []string{"hcldr", "patientvoice"},
		},
		{
			ID: "x:1780370000000000050", Source: post.SourceImport, Kind: post.KindOriginal, Author: bob,
			CreatedAt: ts("2024-04-16T23:50:00Z"),
			Text:      "Leaders: what would change if patients sat on every board? Long thought thread ahead for #hcldr #PatientVoice",
			Lang:      "en", URL: "https://x.com/bob_rn/status/1780370000000000050",
			RootID:   "x:1780370000000000050",
			Hashtags: []string{"hcldr", "patientvoice"},
		},
		{
			ID: "x:1780380000000000103", Source: post.SourceImport, Kind: post.KindReply, Author: bob,
			CreatedAt: ts("2024-04-17T00:32:10.123Z"),
			Text:      "@carol_md T1 trust is earned in small moments #hcldr #PatientExperience",
			Lang:      "en", URL: "https://x.com/bob_rn/status/1780380000000000103",
			ReplyToID: "x:1780380000000000101", ReplyToAuthorID: "x:9001", RootID: "x:1780380000000000101",
			Mentions: []post.Account{{ID: "x:9001", Handle: "carol_md", Name: "Carol 🩺 MD"}},
			Hashtags: []string{"hcldr", "patientexperience"},
		},
		{
			ID: "x:1780380000000000104", Source: post.SourceImport, Kind: post.KindQuote,
			Author:    post.Account{ID: "x:9004", Handle: "frank_ceo", Name: "Frank", Followers: 77},
			CreatedAt: ts("2024-04-17T00:33:00Z"),
			Text:      "This, exactly. #HCLDR https://t.co/bbb222",
			Lang:      "en", URL: "https://x.com/frank_ceo/status/1780380000000000104",
			RootID:    "x:1780380000000000104",
			QuoteOfID: "x:1780360000000000077", QuoteOfAuthorID: "x:9005",
			Hashtags: []string{"hcldr"},
			URLs:     []string{"https://twitter.com/erin_pa/status/1780360000000000077"},
		},
	}
	got := byID(posts)
	for _, w := range want {
		checkPost(t, got[w.ID], w)
	}
	golden(t, "search_page.jsonl", posts)

	m, err := DecodeMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta.NextToken != "b26v89c19zqg8o3fpdg6jjwc3ldz7b" || m.Meta.NewestID != "1780380000000000104" || m.Meta.ResultCount != 4 {
		t.Errorf("meta = %+v", m.Meta)
	}
}

func TestParseV2StreamFile(t *testing.T) {
	f, err := os.Open("testdata/stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var (
		good, bad int
		all       []*post.Post
		tags      [][]string
	)
	for {
		line, rerr := lines.Read(br, 1<<20)
		if len(bytes.TrimSpace(line)) > 0 {
			m, err := DecodeMessage(line)
			if err != nil {
				bad++
			} else {
				posts, err := m.Posts(post.SourceX)
				if err != nil {
					t.Errorf("line %d: %v", good+bad+1, err)
				}
				good++
				all = append(all, posts...)
				tags = append(tags, m.RuleTags())
			}
		}
		if rerr != nil {
			break
		}
	}
	if good != 7 || bad != 1 {
		t.Fatalf("good, invalid lines = %d, %d; want 7, 1", good, bad)
	}
	// the retweet on line 3 brings its original, already seen on line 1, again
	if len(all) != 8 {
		t.Errorf("posts = %d (%v), want 8", len(all), ids(all))
	}
	if !reflect.DeepEqual(tags[4], []string{"chatnight:hitsm", "chatnight:hcldr"}) || len(tags[3]) != 0 {
		t.Errorf("rule tags = %q", tags)
	}
	m, _ := DecodeMessage(mustLine(t, "testdata/stream.jsonl", 4))
	if len(m.MatchingRules) != 1 || m.MatchingRules[0].ID != "1780000000000000900" {
		t.Errorf("numeric matching rule id = %+v, want all digits kept", m.MatchingRules)
	}
	got := byID(all)
	checkPost(t, got["x:1781000000000000004"], &post.Post{
		ID: "x:1781000000000000004", Source: post.SourceX, Kind: post.KindReply,
		Author:    post.Account{ID: "x:9103", Handle: "hank_cio", Name: "Hank", Followers: 9},
		CreatedAt: ts("2024-04-19T16:24:00Z"), Text: "A1 ask for their SOC 2 & pen test #HITsm", Lang: "en",
		URL:       "https://x.com/hank_cio/status/1781000000000000004",
		ReplyToID: "x:1781000000000000001", ReplyToAuthorID: "x:9101", RootID: "x:1781000000000000001",
		Hashtags: []string{"hitsm"},
	})
	checkPost(t, got["x:1781000000000000003"], &post.Post{
		ID: "x:1781000000000000003", Source: post.SourceX, Kind: post.KindRepost,
		Author:    post.Account{ID: "x:9103", Handle: "hank_cio", Name: "Hank", Followers: 9},
		CreatedAt: ts("2024-04-19T16:23:00Z"), Text: "RT @hitsm_host: Q1 How do you vet a new #HITsm vendor? #healthIT", Lang: "en",
		URL:        "https://x.com/hank_cio/status/1781000000000000003",
		RootID:     "x:1781000000000000003",
		RepostOfID: "x:1781000000000000001", RepostOfAuthorID: "x:9101",
		Mentions: []post.Account{{ID: "x:9101", Handle: "hitsm_host", Name: "HITsm Host"}},
		Hashtags: []string{"hitsm", "healthit"},
	})
	golden(t, "stream.jsonl", all)
}

func mustLine(t *testing.T, path string, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(b, []byte("\n"))[n-1]
}

func TestParseV1(t *testing.T) {
	b, err := os.ReadFile("testdata/v1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var all []*post.Post
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		posts, err := ParseV1(line, post.SourceImport)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		all = append(all, posts...)
	}
	wantOrder := []string{"x:1780380000000000101", "x:1780380000000000102", "x:1780370000000000050", "x:1780380000000000103", "x:1780380000000000104", "x:1780380000000000105"}
	if got := ids(all); !reflect.DeepEqual(got, wantOrder) {
		t.Fatalf("ids = %v, want %v", got, wantOrder)
	}
	carol := post.Account{ID: "x:9001", Handle: "carol_md", Name: "Carol MD", Followers: 12034}
	bob := post.Account{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN", Followers: 512}
	dave := post.Account{ID: "x:9003", Handle: "dave_it", Name: "Dave"}
	want := []*post.Post{
		{
			ID: "x:1780380000000000101", Source: post.SourceImport, Kind: post.KindOriginal, Author: carol,
			CreatedAt: ts("2024-04-17T00:30:05Z"),
			Text:      "T1 Welcome to #HCLDR! Tonight @bob_rn leads us on patient voice & trust https://t.co/aaa111",
			Lang:      "en", URL: "https://x.com/carol_md/status/1780380000000000101",
			Mentions: []post.Account{{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN"}},
			Hashtags: []string{"hcldr"}, URLs: []string{"https://example.org/hcldr/topic"},
		},
		{
			ID: "x:1780380000000000102", Source: post.SourceImport, Kind: post.KindRepost, Author: dave,
			CreatedAt: ts("2024-04-17T00:31:00Z"),
			Text:      "RT @bob_rn: Leaders: what would change if patients sat on every board? #hcldr #PatientVoice",
			Lang:      "en", URL: "https://x.com/dave_it/status/1780380000000000102",
			RepostOfID: "x:1780370000000000050", RepostOfAuthorID: "x:9002",
			Mentions: []post.Account{{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN"}},
			Hashtags: []string{"hcldr", "patientvoice"},
		},
		{
			ID: "x:1780370000000000050", Source: post.SourceImport, Kind: post.KindOriginal, Author: bob,
			CreatedAt: ts("2024-04-16T23:50:00Z"),
			Text:      "Leaders: what would change if patients sat on every board? #hcldr #PatientVoice",
			Lang:      "en", URL: "https://x.com/bob_rn/status/1780370000000000050",
			Hashtags: []string{"hcldr", "patientvoice"},
		},
		{
			ID: "x:1780380000000000103", Source: post.SourceImport, Kind: post.KindReply, Author: bob,
			CreatedAt: ts("2024-04-17T00:32:10Z"),
			Text:      "@carol_md T1 trust is earned in small moments #hcldr",
			Lang:      "en", URL: "https://x.com/bob_rn/status/1780380000000000103",
			ReplyToID: "x:1780380000000000101", ReplyToAuthorID: "x:9001",
			Mentions: []post.Account{{ID: "x:9001", Handle: "carol_md", Name: "Carol MD"}},
			Hashtags: []string{"hcldr"},
		},
		{
			ID: "x:1780380000000000104", Source: post.SourceImport, Kind: post.KindQuote, Author: dave,
			CreatedAt: ts("2024-04-17T00:33:00Z"),
			Text:      "This, exactly. A longer thought about boards and patients that goes past one hundred and forty characters so the classic stream cuts it #HCLDR",
			Lang:      "en", URL: "https://x.com/dave_it/status/1780380000000000104",
			QuoteOfID: "x:1780370000000000050", QuoteOfAuthorID: "x:9002",
			Hashtags: []string{"hcldr"},
		},
		{
			ID: "x:1780380000000000105", Source: post.SourceImport, Kind: post.KindOriginal, Author: carol,
			CreatedAt: ts("2024-04-17T00:34:00Z"), Text: "#hcldr last call for T2 <3", Lang: "en",
			URL: "https://x.com/carol_md/status/1780380000000000105", Hashtags: []string{"hcldr"},
		},
	}
	got := byID(all)
	for _, w := range want {
		checkPost(t, got[w.ID], w)
	}
	golden(t, "v1.jsonl", all)
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		v1        bool
		wantPosts int
		wantErr   string
	}{
		{name: "not json", raw: `{"data": [`, wantErr: "decode X v2 JSON"},
		{name: "no data", raw: `{"foo": 1}`, wantErr: "not an X v2 response"},
		{name: "empty page", raw: `{"meta": {"result_count": 0}}`},
		{name: "stream notice", raw: `{"errors": [{"title": "operational-disconnect", "disconnect_type": "OperationalDisconnect", "type": "https://api.twitter.com/2/problems/operational-disconnect"}]}`},
		{name: "bare tweet", raw: `{"id": "5", "author_id": "7", "text": "hi #HCLDR", "created_at": "2024-01-01T00:00:00Z"}`, wantPosts: 1},
		{name: "one bad tweet of two", raw: `{"data": [{"id": "5", "author_id": "7", "text": "a", "created_at": "2024-01-01T00:00:00Z"}, {"id": "6", "text": "b", "created_at": "2024-01-01T00:00:00Z"}]}`, wantPosts: 1, wantErr: "no author_id"},
		{name: "bad time", raw: `{"data": {"id": "5", "author_id": "7", "text": "a", "created_at": "yesterday"}}`, wantErr: "created_at"},
		{name: "data is a string", raw: `{"data": "x"}`, wantErr: "want an object or array"},
		{name: "v1 rounded id", raw: `{"id_str": "1.25E+18", "text": "a", "created_at": "Wed Apr 17 00:34:00 +0000 2024", "user": {"id_str": "1"}}`, v1: true, wantErr: "not a tweet id"},
		{name: "v1 no user", raw: `{"id_str": "12", "text": "a", "created_at": "Wed Apr 17 00:34:00 +0000 2024"}`, v1: true, wantErr: "user.id_str"},
		{name: "v1 limit notice", raw: `{"limit": {"track": 12, "timestamp_ms": "1713314000000"}}`, v1: true},
		{name: "v1 numeric ids only", raw: `{"id": 1780380000000000199, "text": "RT @bob_rn: hi", "created_at": "Wed Apr 17 00:34:00 +0000 2024", "user": {"id": 9001}, "entities": {"user_mentions": [{"screen_name": "Bob_RN", "id_str": "9002"}]}}`, v1: true, wantPosts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parse := ParseV2
			if tc.v1 {
				parse = ParseV1
			}
			posts, err := parse([]byte(tc.raw), post.SourceImport)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if len(posts) != tc.wantPosts {
				t.Fatalf("posts = %d, want %d", len(posts), tc.wantPosts)
			}
			for _, p := range posts {
				p.Community = "c"
				if err := p.Validate(); err != nil {
					t.Errorf("post does not validate: %v", err)
				}
			}
		})
	}
	// An old-style retweet without retweeted_status: a repost by the mentioned author.
	posts, _ := ParseV1([]byte(`{"id": 1780380000000000199, "text": "RT @bob_rn: hi", "created_at": "Wed Apr 17 00:34:00 +0000 2024", "user": {"id": 9001}, "entities": {"user_mentions": [{"screen_name": "Bob_RN", "id_str": "9002"}]}}`), post.SourceImport)
	if p := posts[0]; p.ID != "x:1780380000000000199" || p.Kind != post.KindRepost || p.RepostOfAuthorID != "x:9002" || p.RepostOfID != "" {
		t.Errorf("old-style retweet = %+v", p)
	}
}
