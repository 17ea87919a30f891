package post

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	p := &Post{
		ID: "x:1", Source: SourceX, Community: "hcldr", Kind: KindReply,
		Author:    Account{ID: "x:9", Handle: "amy", Name: "Amy", Followers: 42},
		CreatedAt: time.Date(2026, 11, 25, 1, 30, 0, 123_000_000, time.UTC),
		Text:      "A1: <b>bold</b> & \"quoted\" \u2028 #HCLDR", Lang: "en", URL: "https://x.com/amy/status/1",
		ReplyToID: "x:0", ReplyToAuthorID: "x:8", RootID: "x:0",
		Mentions: []Account{{ID: "x:8", Handle: "bob"}}, Hashtags: []string{"hcldr"}, URLs: []string{"https://e.org"},
		Raw: []byte(`{"id":"1"}`),
	}
	body, err := Encode(nil, p, p)
	if err != nil {
		t.Fatal(err)
	}
	got, bad := Decode(body)
	if len(bad) != 0 || len(got) != 2 {
		t.Fatalf("decoded %d posts, %d bad", len(got), len(bad))
	}
	if !reflect.DeepEqual(got[0], p) {
		t.Errorf("round trip changed the post:\n got %+v\nwant %+v", got[0], p)
	}
}

func TestDecodeKeepsGoodLinesAroundBadOnes(t *testing.T) {
	good := `{"id":"sim:1","source":"sim","community":"c","author":{"id":"sim:a"},"created_at":"2026-01-01T00:00:00Z","text":"hi"}`
	body := strings.Join([]string{
		good,
		`{"id":"sim:2","source":"sim"`, // truncated
		`{"id":"","source":"sim"}`,     // no id
		`{"id":"sim:3","source":"fax","community":"c","author":{"id":"a"},"created_at":"2026-01-01T00:00:00Z"}`,
		"\x00\xff\xfe",
		"",
		strings.Replace(good, "sim:1", "sim:4", 1),
	}, "\n")
	got, bad := Decode([]byte(body))
	if len(got) != 2 || got[0].ID != "sim:1" || got[1].ID != "sim:4" {
		t.Fatalf("good posts = %v", got)
	}
	var lines []int
	for _, b := range bad {
		lines = append(lines, b.Line)
		if b.Err == nil || len(b.Raw) == 0 {
			t.Errorf("bad line %d lacks its error or raw bytes", b.Line)
		}
	}
	if !reflect.DeepEqual(lines, []int{2, 3, 4, 5}) {
		t.Errorf("bad lines = %v, want [2 3 4 5]", lines)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   Post
		want Post
	}{
		{"kind from references", Post{ID: "x:1", RepostOfID: "x:0", ReplyToID: "x:2"}, Post{ID: "x:1", Kind: KindRepost, RepostOfID: "x:0", ReplyToID: "x:2"}},
		{"reply", Post{ID: "x:1", ReplyToID: "x:2"}, Post{ID: "x:1", Kind: KindReply, ReplyToID: "x:2"}},
		{"tags folded", Post{ID: "x:1", Kind: KindOriginal, Hashtags: []string{"#HCLDR", "＃HITsm"}}, Post{ID: "x:1", Kind: KindOriginal, Hashtags: []string{"hcldr", "hitsm"}}},
		{"only web urls", Post{ID: "x:1", Kind: KindOriginal, URL: `=HYPERLINK("http://e.example","x")`,
			URLs: []string{"https://a.example/x", "javascript:alert(1)", "=cmd|' /C calc'!A0", "HTTP://B.example", "ftp://c.example/", "http://"}},
			Post{ID: "x:1", Kind: KindOriginal, URLs: []string{"https://a.example/x", "HTTP://B.example"}}},
		{"web url kept", Post{ID: "x:1", Kind: KindOriginal, URL: "https://m.s/@a/1"}, Post{ID: "x:1", Kind: KindOriginal, URL: "https://m.s/@a/1"}},
		{"mastodon seconds", Post{ID: "mastodon:https://m.s/1", Kind: KindOriginal, CreatedAt: time.Date(2025, 7, 17, 1, 2, 3, 456e6, time.FixedZone("x", 3600))},
			Post{ID: "mastodon:https://m.s/1", Kind: KindOriginal, CreatedAt: time.Date(2025, 7, 17, 0, 2, 3, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.in
			p.Normalize()
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("got %+v, want %+v", p, tt.want)
			}
		})
	}
}

func FuzzNormalizeTag(f *testing.F) {
	for _, s := range []string{"#HCLDR", "＃ＨＣＬＤＲ", "#000¯", "cafe\u0301", "İstanbul", "ǅ", "# #x", "ﬁ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		got := NormalizeTag(tag)
		if again := NormalizeTag(got); again != got {
			t.Fatalf("NormalizeTag(%q) = %q, then %q: not stable", tag, got, again)
		}
		if strings.ContainsFunc(got, unicode.IsSpace) || strings.HasPrefix(got, "#") {
			t.Fatalf("NormalizeTag(%q) = %q", tag, got)
		}
	})
}

func TestValidCommunity(t *testing.T) {
	for id, ok := range map[string]bool{
		"hcldr": true, "hit-sm_2": true, "0day": true, strings.Repeat("a", 64): true,
		"": false, "HCLDR": false, "a.b": false, "a b": false, "a*": false, "a>": false, "-a": false, "_a": false,
		strings.Repeat("a", 65): false, "café": false,
	} {
		if err := ValidCommunity(id); (err == nil) != ok {
			t.Errorf("ValidCommunity(%q) = %v", id, err)
		}
	}
}
