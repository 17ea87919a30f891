package post

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHostileLines: each hostile line is refused with a reason naming the problem,
// and the good posts around it are kept.
func TestHostileLines(t *testing.T) {
	now := time.Now().UTC()
	line := func(mut func(m map[string]string)) string {
		m := map[string]string{
			"id": `"x:1"`, "source": `"x"`, "community": `"hcldr"`, "author": `{"id":"x:9","handle":"amy"}`,
			"created_at": `"` + now.Add(-time.Hour).Format(time.RFC3339) + `"`, "text": `"hi"`,
		}
		mut(m)
		var parts []string
		for k, v := range m {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	many := func(n int, item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
	}
	tests := []struct {
		name, line, want string
	}{
		{"truncated", `{"id":"x:1","source":"x","comm`, "decode post"},
		{"malformed", `{"id":"x:1",,}`, "decode post"},
		{"invalid utf-8", line(func(m map[string]string) { m["text"] = "\"a\xff\xfeb\"" }), "not valid UTF-8"},
		{"nul in text", line(func(m map[string]string) { m["text"] = `"a\u0000b"` }), "NUL"},
		{"nul in id", line(func(m map[string]string) { m["id"] = `"x:1\u0000"` }), "control character"},
		{"raw nul byte", line(func(m map[string]string) { m["text"] = "\"a\x00b\"" }), "decode post"},
		{"1 MB text", line(func(m map[string]string) { m["text"] = `"` + strings.Repeat("a", 1<<20) + `"` }), "text of 1048576 bytes"},
		{"line too long", line(func(m map[string]string) { m["raw"] = `"` + strings.Repeat("A", 3<<20) + `"` }), "over the 2097152-byte limit"},
		{"deeply nested", line(func(m map[string]string) { m["extra"] = strings.Repeat("[", 20000) + strings.Repeat("]", 20000) }), "exceeded max depth"},
		{"huge mentions", line(func(m map[string]string) { m["mentions"] = many(10000, `{"handle":"a"}`) }), "10000 mentions"},
		{"huge hashtags", line(func(m map[string]string) { m["hashtags"] = many(1000, `"a"`) }), "1000 hashtags"},
		{"far past", line(func(m map[string]string) { m["created_at"] = `"1969-12-31T23:59:59Z"` }), "before 1970-01-01"},
		{"far future", line(func(m map[string]string) { m["created_at"] = `"9999-01-01T00:00:00Z"` }), "in the future"},
		{"bad community", line(func(m map[string]string) { m["community"] = `"HCLDR'; DROP TABLE posts"` }), "community"},
		{"long id", line(func(m map[string]string) { m["id"] = `"x:` + strings.Repeat("9", 5000) + `"` }), "id of 5002 bytes"},
	}
	good := line(func(map[string]string) {})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			posts, bad := Decode([]byte(good + "\n" + tt.line + "\n" + good))
			if len(posts) != 2 || len(bad) != 1 {
				t.Fatalf("%d posts and %d bad lines, want 2 and 1", len(posts), len(bad))
			}
			if bad[0].Line != 2 || !strings.Contains(bad[0].Err.Error(), tt.want) {
				t.Errorf("bad line %d: %v, want line 2 saying %q", bad[0].Line, bad[0].Err, tt.want)
			}
			if len(bad[0].Err.Error()) > 300 {
				t.Errorf("reason is %d bytes long; hostile values must not flood logs", len(bad[0].Err.Error()))
			}
		})
	}
}

// TestAcceptedOddities: HTML and script in text, odd Unicode and a post at the edge of
// the limits are posts, not errors; the viewer escapes text when it shows it.
func TestAcceptedOddities(t *testing.T) {
	now := time.Now().UTC()
	p := &Post{
		ID: "x:1", Source: SourceX, Community: "hcldr", Author: Account{ID: "x:9"},
		CreatedAt: now.Add(MaxClockSkew - time.Minute),
		Text:      `<script>alert("x")</script><img src=x onerror=alert(1)> café ＃ＨＣＬＤＲ ` + "\u202e" + `rtl`,
		Hashtags:  []string{"＃ＨＣＬＤＲ", "#HcLdR", "ＡＩ"},
		Mentions:  make([]Account, MaxMentions),
	}
	for i := range p.Mentions {
		p.Mentions[i] = Account{Handle: fmt.Sprint("u", i)}
	}
	body, err := Encode(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	posts, bad := Decode(body)
	if len(bad) != 0 || len(posts) != 1 {
		t.Fatalf("bad lines %v", bad)
	}
	if got := posts[0].Hashtags; got[0] != "hcldr" || got[1] != "hcldr" || got[2] != "ai" {
		t.Errorf("hashtags folded to %q", got)
	}
	if posts[0].Text != p.Text {
		t.Errorf("text changed: %q", posts[0].Text)
	}
}

func TestNormalizeTagUnicode(t *testing.T) {
	for in, want := range map[string]string{
		"#HCLDR": "hcldr", "＃HCLDR": "hcldr", "＃ＨＣＬＤＲ": "hcldr", "##x": "x", " #Ärzte ": "ärzte",
		"＃ＨＩＴｓｍ": "hitsm", "#ΣΟΦΙΑ": "σοφια", "café": "café", "#Cafe\u0301": "café", "#ｈｃｌｄｒ": "hcldr",
	} {
		if got := NormalizeTag(in); got != want {
			t.Errorf("NormalizeTag(%q) = %q, want %q", in, got, want)
		}
	}
}
