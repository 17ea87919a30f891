package bluesky

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/post"
)

const (
	didHost   = "did:plc:4hcldrhost7q2xq5ab3cd4ef"
	didAna    = "did:plc:nurseana5fz2lq6w7xy8z9ab"
	didClinic = "did:web:clinic.example.org"
	didRepost = "did:plc:reposter2bd3ce4df5eg6fh7"
	uriQ1     = "at://" + didHost + "/app.bsky.feed.post/3l6hcldrq1a2b"
)

func readTestdata(t *testing.T, name string) []byte {
	return bytes.TrimSpace(ingesttest.Testdata(t, name))
}

func TestParseEventGolden(t *testing.T) {
	ingesttest.GoldenFiles(t, "events", func(t *testing.T, name string, raw []byte) ([]*post.Post, bool) {
		raw = bytes.TrimSpace(raw)
		posts, err := ParseEvent(raw, post.SourceBluesky)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "ignored_") {
			if posts != nil {
				t.Fatalf("got %d posts from an event chatnight ignores", len(posts))
			}
			return nil, false
		}
		for _, p := range posts {
			if !bytes.Equal(p.Raw, raw) {
				t.Errorf("Raw is not the event")
			}
			p.Community = "hcldr"
			if err := p.Validate(); err != nil {
				t.Error(err)
			}
			p.Community = ""
		}
		return posts, true
	})
}

func TestParseEventFields(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	tests := []struct {
		file  string
		check func(t *testing.T, p *post.Post)
	}{
		{"post_reply_facets.json", func(t *testing.T, p *post.Post) {
			eq(t, "ID", p.ID, "bluesky:"+uriQ1)
			eq(t, "Kind", p.Kind, post.KindReply)
			eq(t, "Author", p.Author, post.Account{ID: "bluesky:" + didHost, Handle: didHost})
			eq(t, "CreatedAt", p.CreatedAt, at("2024-10-22T00:31:07.101Z"))
			eq(t, "Lang", p.Lang, "en")
			eq(t, "URL", p.URL, "https://bsky.app/profile/"+didHost+"/post/3l6hcldrq1a2b")
			eq(t, "ReplyToID", p.ReplyToID, "bluesky:at://"+didAna+"/app.bsky.feed.post/3l6parentrk22")
			eq(t, "ReplyToAuthorID", p.ReplyToAuthorID, "bluesky:"+didAna)
			eq(t, "RootID", p.RootID, "bluesky:at://"+didClinic+"/app.bsky.feed.post/3l6rootrkey22")
			// The mention follows "é" and "🏥": its byte offsets name the handle only
			// when the text is indexed by bytes.
			eq(t, "Mentions", p.Mentions, []post.Account{{ID: "bluesky:" + didAna, Handle: "ana.nurses.example"}})
			eq(t, "Hashtags", p.Hashtags, []string{"hcldr", "patientvoice"})
			eq(t, "URLs", p.URLs, []string{"https://blog.example.org/q1"})
		}},
		{"post_quote.json", func(t *testing.T, p *post.Post) {
			eq(t, "Kind", p.Kind, post.KindQuote)
			eq(t, "QuoteOfID", p.QuoteOfID, "bluesky:"+uriQ1)
			eq(t, "QuoteOfAuthorID", p.QuoteOfAuthorID, "bluesky:"+didHost)
			eq(t, "CreatedAt (no ms, +00:00)", p.CreatedAt, at("2024-10-22T00:33:10Z"))
			// From the text alone: not "#2024", not the keycap, not "(#nope)", not "end#not".
			eq(t, "Hashtags", p.Hashtags, []string{"hcldr"})
		}},
		{"post_quote_media_tags.json", func(t *testing.T, p *post.Post) {
			eq(t, "Kind", p.Kind, post.KindQuote)
			eq(t, "QuoteOfID", p.QuoteOfID, "bluesky:at://"+didAna+"/app.bsky.feed.post/3l6quoterk222")
			eq(t, "Hashtags (record tags)", p.Hashtags, []string{"hitsm", "hcldr"})
			eq(t, "Lang", p.Lang, "")
		}},
		{"post_external_future.json", func(t *testing.T, p *post.Post) {
			eq(t, "Kind", p.Kind, post.KindOriginal)
			eq(t, "URLs (link card)", p.URLs, []string{"https://blog.example.org/primer"})
			// createdAt in 2030 is a clock running ahead: the relay's time bounds it.
			eq(t, "CreatedAt", p.CreatedAt, time.UnixMicro(1729557300000002).UTC().Truncate(time.Millisecond))
		}},
		{"repost.json", func(t *testing.T, p *post.Post) {
			eq(t, "ID", p.ID, "bluesky:at://"+didRepost+"/app.bsky.feed.repost/3l6repostrk22")
			eq(t, "Kind", p.Kind, post.KindRepost)
			eq(t, "Author.ID", p.Author.ID, "bluesky:"+didRepost)
			eq(t, "RepostOfID", p.RepostOfID, "bluesky:"+uriQ1)
			eq(t, "RepostOfAuthorID", p.RepostOfAuthorID, "bluesky:"+didHost)
			eq(t, "CreatedAt", p.CreatedAt, at("2024-10-22T00:36:39.5Z"))
			eq(t, "Hashtags", len(p.Hashtags), 0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			posts, err := ParseEvent(readTestdata(t, filepath.Join("events", tc.file)), post.SourceBluesky)
			if err != nil {
				t.Fatal(err)
			}
			if len(posts) != 1 {
				t.Fatalf("got %d posts", len(posts))
			}
			tc.check(t, posts[0])
		})
	}
}

func TestParserProfiles(t *testing.T) {
	ps := Parser{Profile: func(did string) (Profile, bool) {
		switch did {
		case didHost:
			return Profile{Handle: "hcldr.bsky.social", Name: "HCLDR", Followers: 5000}, true
		case didAna:
			return Profile{Handle: "ana.bsky.social"}, true
		}
		return Profile{}, false
	}}
	posts, err := ps.ParseEvent(readTestdata(t, "events/post_reply_facets.json"), post.SourceBluesky)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "Author", posts[0].Author, post.Account{ID: "bluesky:" + didHost, Handle: "hcldr.bsky.social", Name: "HCLDR", Followers: 5000})
	eq(t, "Mention (cache wins over the text)", posts[0].Mentions[0].Handle, "ana.bsky.social")
}

func TestParseEventErrors(t *testing.T) {
	good := string(readTestdata(t, "events/post_quote.json"))
	rep := string(readTestdata(t, "events/repost.json"))
	tests := []struct{ name, raw, want string }{
		{"not json", `{"did":`, "decode jetstream event"},
		{"no kind", `{"did":"did:plc:x","time_us":1}`, "no kind"},
		{"bad did", strings.Replace(good, `"did":"`+didAna+`"`, `"did":"alice"`, 1), "no valid did"},
		{"no rkey", strings.Replace(good, `"rkey":"3l6quoterk222"`, `"rkey":""`, 1), "rkey"},
		{"record not an object", strings.Replace(rep, `"record":{`, `"record":[{`, 1)[:0] + `{"did":"did:plc:x","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3l","record":"text"}}`, "decode record"},
		{"repost of a non-post", strings.Replace(rep, "app.bsky.feed.post/3l6hcldrq1a2b", "app.bsky.graph.list/3l6", 1), "not a post"},
		{"no time at all", `{"did":"did:plc:x","kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3l","record":{"text":"hi","createdAt":"soon"}}}`, "not a time"},
		{"bad createdAt falls back to time_us", `{"did":"did:plc:x","time_us":1729557300000000,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3l","record":{"text":"hi","createdAt":"soon"}}}`, ""},
		{"reply with a broken parent keeps the post", `{"did":"did:plc:x","time_us":1729557300000000,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"3l","record":{"text":"hi","createdAt":"2024-10-22T00:00:00Z","reply":{"parent":{"uri":"https://x"},"root":{"uri":""}}}}}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tc.raw), post.SourceBluesky)
			ingesttest.CheckErr(t, err, tc.want)
		})
	}
}

func TestTextHashtags(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"#hcldr", []string{"hcldr"}},
		{"Q1 #HCLDR: who?", []string{"hcldr"}},
		{"tags #a1 #2024 #1st", []string{"a1", "1st"}},
		{"no#tag here", nil},
		{"(#paren)", nil},
		{"full width ＃ＨＩＴｓｍ ok", []string{"hitsm"}},
		{"#️⃣ keycap", nil},
		{"trailing #punct!!! and #dots...", []string{"punct", "dots"}},
		{"#santé\u200bafter", []string{"santé"}},
		{"#" + strings.Repeat("x", 65), nil},
		{"#" + strings.Repeat("x", 64), []string{strings.Repeat("x", 64)}},
		{"line\n#next", []string{"next"}},
		{"#", nil},
	}
	for _, tc := range tests {
		eq(t, tc.text, TextHashtags(tc.text), tc.want)
	}
}

func TestParseATURI(t *testing.T) {
	u, err := ParseATURI(uriQ1)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "parts", u, ATURI{Authority: didHost, Collection: CollectionPost, RKey: "3l6hcldrq1a2b"})
	for _, bad := range []string{"", "https://bsky.app/x", "at://did:plc:x", "at://did:plc:x/app.bsky.feed.post", "at://did:plc:x/c/r/extra", "at:///c/r", "at://did:plc:x/c/r k"} {
		if _, err := ParseATURI(bad); err == nil {
			t.Errorf("ParseATURI(%q) accepted", bad)
		}
	}
}

func TestRecordTime(t *testing.T) {
	bound := time.Date(2024, 10, 22, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-10-22T00:31:07.101Z", time.Date(2024, 10, 22, 0, 31, 7, 101e6, time.UTC)},
		{"2024-10-22T00:31:07Z", time.Date(2024, 10, 22, 0, 31, 7, 0, time.UTC)},
		{"2024-10-22T00:31:07+00:00", time.Date(2024, 10, 22, 0, 31, 7, 0, time.UTC)},
		{"2024-10-21T20:31:07.5-04:00", time.Date(2024, 10, 22, 0, 31, 7, 5e8, time.UTC)},
		{"2024-10-22T00:31:07.123456789Z", time.Date(2024, 10, 22, 0, 31, 7, 123e6, time.UTC)},
		{"2024-10-22T00:31:07.101", time.Date(2024, 10, 22, 0, 31, 7, 101e6, time.UTC)},
		{"2024-10-22T00:31:07+0000", time.Date(2024, 10, 22, 0, 31, 7, 0, time.UTC)},
		{"2099-01-01T00:00:00Z", bound},
		{"garbage", bound},
	}
	for _, tc := range tests {
		if got := recordTime(tc.in, bound); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("recordTime(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := recordTime("garbage", time.Time{}); !got.IsZero() {
		t.Errorf("no time and no bound = %v", got)
	}
}

func TestParsePostView(t *testing.T) {
	var page struct {
		Posts []json.RawMessage `json:"posts"`
	}
	if err := json.Unmarshal(readTestdata(t, "views/search_page1.json"), &page); err != nil {
		t.Fatal(err)
	}
	var posts []*post.Post
	for _, raw := range page.Posts {
		p, err := ParsePostView(raw, post.SourceBluesky)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Raw, raw) {
			t.Errorf("Raw is not the view")
		}
		posts = append(posts, p)
	}
	eq(t, "author", posts[0].Author, post.Account{ID: "bluesky:" + didHost, Handle: "hcldr.bsky.social", Name: "HCLDR chat"})
	eq(t, "reply", posts[1].ReplyToID, "bluesky:"+uriQ1)
	eq(t, "same id as the firehose", posts[0].ID, "bluesky:"+uriQ1)
	ingesttest.Golden(t, "search_page1.json", ingesttest.PostsJSON(t, posts))

	var page2 struct {
		Posts []json.RawMessage `json:"posts"`
	}
	if err := json.Unmarshal(readTestdata(t, "views/search_page2.json"), &page2); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePostView(page2.Posts[0], post.SourceBluesky)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "handle.invalid falls back to the DID", p.Author.Handle, didClinic)
	if _, err := ParsePostView(page2.Posts[2], post.SourceBluesky); err == nil {
		t.Error("a repost view parsed as a post")
	}
	if _, err := ParsePostView([]byte(`{"uri":"`+uriQ1+`","author":{"did":"did:plc:other"},"record":{"text":"x","createdAt":"2024-10-22T00:00:00Z"}}`), post.SourceBluesky); err == nil {
		t.Error("a view whose author does not own the uri parsed")
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}
