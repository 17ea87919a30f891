package qa

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
)

// marks renders marks compactly: "Q1 A2".
func marks(ms []Mark) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%c%d", strings.ToUpper(string(m.Kind))[0], m.Number))
	}
	return strings.Join(parts, " ")
}

func TestParse(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		// questions
		{"Q1 What is burnout?", "Q1"},
		{"Q1: What is burnout?", "Q1"},
		{"Q1. What is burnout?", "Q1"},
		{"Q 1 What is burnout?", "Q1"},
		{"Q1/ What is burnout?", "Q1"},
		{"Q1) What is burnout?", "Q1"},
		{"Question 1: What is burnout?", "Q1"},
		{"question 12 - what now", "Q12"},
		{"Question #3: tech?", "Q3"},
		{"Question1: tech?", "Q1"},
		{"q2: lower case", "Q2"},
		{"Welcome! Q1: what is burnout?", "Q1"},
		{"T1 Interoperability in 2026. Q1: Where does data get stuck?", "T1 Q1"},
		{"@hcldr @colin_hung Q 2 leading mentions", "Q2"},
		{".@hcldr Q3: dot mention", "Q3"},
		{"Q99: last one", "Q99"},
		// answers
		{"A1 burnout is real", "A1"},
		{"A1: burnout is real", "A1"},
		{"A 1 burnout is real", "A1"},
		{"A1) burnout", "A1"},
		{"A1/ burnout", "A1"},
		{"a1: lower", "A1"},
		{"A1 & A2 both trust", "A1 A2"},
		{"A2/A3 - fair schedules", "A2 A3"},
		{"A1, A2: listening", "A1 A2"},
		{"A3&A4 apps", "A3 A4"},
		{"@colin_hung A3: mention first", "A3"},
		{"Catching up: A4 and A5 too", "A4 A5"},
		{"(A2) in parentheses", "A2"},
		{"A1: yes. A1: again", "A1 A1"},
		// separators hosts and participants put between letter and number
		{"Q.1 What is burnout?", "Q1"},
		{"Q-1: What is burnout?", "Q1"},
		{"Q#1 What is burnout?", "Q1"},
		{"Q–2 en dash", "Q2"},
		{"Q 1: spaced with colon", "Q1"},
		{"Q1 - dash after", "Q1"},
		{"Q1 : spaced colon", "Q1"},
		{"@hcldr Q.3 after a mention", "Q3"},
		{"A.1 burnout is real", "A1"},
		{"A-1 burnout is real", "A1"},
		{"A#1 burnout is real", "A1"},
		{"a.1 lower case at the start", "A1"},
		{"a-2: lower case at the start", "A2"},
		{"A1. burnout", "A1"},
		{"A1 - burnout", "A1"},
		{"A1 :burnout", "A1"},
		{"A1) burnout", "A1"},
		{"[A1] brackets", "A1"},
		{"A1+A2 plus", "A1 A2"},
		{"A1 + A2 plus spaced", "A1 A2"},
		{"Ans 1 word", "A1"},
		{"Ans. 2 word with dot", "A2"},
		{"ans3: word", "A3"},
		{"Answer #4 word", "A4"},
		{"Great chat! A-2: mid-text with colon", "A2"},
		{"Welcome back! Q.4) mid-text", "Q4"},
		{"T.1 topic", "T1"},
		{"T#2: topic", "T2"},
		// topics
		{"T1: Nurse burnout", "T1"},
		{"Topic 2 - scheduling", "T2"},
		// full width
		{"Ａ２：全角の答え", "A2"},
		{"Ｑ１：質問", "Q1"},
		{"Ａ１　＆　Ａ２", "A1 A2"},
		// not marks: inside words, hashtags, mentions, URLs
		{"My HbA1c is fine", ""},
		{"#A1C and #Q1 hashtags", ""},
		{"@A1 is an account", ""},
		{"see https://example.org/Q3/A1 for more", ""},
		{"www.example.org/A1", ""},
		{"A1C levels", ""},
		{"T1D is type 1 diabetes", ""},
		{"T1 diabetes at the start", ""},
		{"T2 DM and exercise", ""},
		{"T-1 day until the launch", ""},
		{"A1C: 6.5 this quarter", ""},
		{"a1c 7.2", ""},
		{"HbA1c and T1D", ""},
		{"A.1C levels", ""},
		{"my grade was A-1 overall", ""},
		{"see section A.1 of the guide", ""},
		{"rated A#1 in town", ""},
		{"The T1 line went down", ""},
		{"Ansible 2 released", ""},
		{"Q100 too big", ""},
		{"A0 is zero", ""},
		{"A123", ""},
		{"Q1.5 decimal", ""},
		{"A1:30pm time", ""},
		{"Q1/2024 date", ""},
		{"A1,000 dollars", ""},
		{"Q4'24 results", ""},
		{"Q1's answers were great", ""},
		{"A1-C grade", ""},
		{"A1_x", ""},
		{"plan A 1 more time", ""},              // spaced form only at the start
		{"my question 1 is", ""},                // word form only at the start
		{"Still thinking about Q3 answers", ""}, // question mid-text without punctuation
		{"the T2 topic", ""},
		{"", ""},
		{"Q", ""},
		{"A", ""},
		{"Q:", ""},
		// quarters
		{"Q1 2024 revenue was up", ""},
		{"Our Q2 2025 plan", ""},
		{"Q3 FY25 numbers", ""},
		{"2024 Q1 results", ""},
		{"FY24 Q2 guidance", ""},
		{"Q1 '24 results", ""},
		{"Q5 2024: five is not a quarter", "Q5"},
		{"A1 2024 was hard", "A1"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got := Parse(tt.text)
			if marks(got) != tt.want {
				t.Fatalf("Parse(%q) = %q, want %q", tt.text, marks(got), tt.want)
			}
			for _, m := range got {
				if m.Start < 0 || m.End > len(tt.text) || m.Start >= m.End {
					t.Fatalf("mark %+v: span outside %q", m, tt.text)
				}
			}
		})
	}
}

func TestParseSpans(t *testing.T) {
	text := "@x Ａ２：and Question 3: and A4"
	got := Parse(text)
	want := []string{"Ａ２", "A4"}
	if len(got) != len(want) {
		t.Fatalf("Parse(%q) = %+v", text, got)
	}
	for i, m := range got {
		if text[m.Start:m.End] != want[i] {
			t.Errorf("mark %d spans %q, want %q", i, text[m.Start:m.End], want[i])
		}
	}
	text = "Question 3: why"
	if m := Parse(text); len(m) != 1 || text[m[0].Start:m[0].End] != "Question 3" {
		t.Errorf("Parse(%q) = %+v, want the span of \"Question 3\"", text, m)
	}
}

func testCommunity(t *testing.T, yaml string) *community.Community {
	t.Helper()
	cfg, err := community.Parse("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return &cfg.Communities[0]
}

func TestForPost(t *testing.T) {
	hosted := testCommunity(t, `
communities:
  - id: hcldr
    hashtags: [hcldr]
    hosts: {x: [colin_hung], mastodon: ["hcldr@mastodon.social"]}
`)
	open := testCommunity(t, `
communities:
  - id: open
    hashtags: [open]
`)
	xp := func(handle, text string) *post.Post {
		return &post.Post{ID: "x:1", Source: post.SourceX, Kind: post.KindOriginal, Author: post.Account{ID: "x:9", Handle: handle}, Text: text}
	}
	tests := []struct {
		name string
		cm   *community.Community
		p    *post.Post
		want string
	}{
		{"host asks", hosted, xp("colin_hung", "Q1: why? T1: burnout"), "Q1 T1"},
		{"host handle case", hosted, xp("@Colin_Hung", "Q1: why?"), "Q1"},
		{"participant cannot ask", hosted, xp("someone", "Q1: why? A1: because"), "A1"},
		{"host on another network is not host", hosted,
			&post.Post{ID: "bluesky:at://x", Kind: post.KindOriginal, Author: post.Account{Handle: "colin_hung"}, Text: "Q1: why?"}, ""},
		{"mastodon host", hosted,
			&post.Post{ID: "mastodon:https://m/1", Kind: post.KindOriginal, Author: post.Account{Handle: "HCLDR@mastodon.social"}, Text: "Q2: why?"}, "Q2"},
		{"anyone asks without hosts", open, xp("someone", "Q1: why?"), "Q1"},
		{"unknown community", nil, xp("someone", "Q1: why?"), "Q1"},
		{"duplicates dropped", hosted, xp("x", "A1: yes A1: again A2"), "A1 A2"},
		{"repost carries nothing", hosted,
			&post.Post{ID: "x:2", Kind: post.KindRepost, RepostOfID: "x:1", Author: post.Account{Handle: "colin_hung"}, Text: "Q1: why?"}, ""},
		{"manual retweet", hosted, xp("colin_hung", "RT @colin_hung: Q1: why?"), ""},
		{"manual retweet lower case", hosted, xp("someone", "rt @someone A1: x"), ""},
		{"RT not a retweet", hosted, xp("someone", "RTs welcome A1: x"), "A1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := marks(ForPost(tt.p, tt.cm)); got != tt.want {
				t.Errorf("ForPost = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"Q1: x", "A1 & A2", "Ａ２：", "Question 12 - y", "https://x/A1", "Q1 2024", "@a A 1", "A1/A2/A3,A4",
		"Q.1 x", "Q-1: x", "Q#1", "A.1", "A-1 y", "A#1", "Ans. 2", "T1 diabetes", "A1C", "x A-2: y", "T-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ms := Parse(text)
		last := -1
		for _, m := range ms {
			if m.Number < 1 || m.Number > MaxNumber {
				t.Fatalf("Parse(%q): number %d out of range", text, m.Number)
			}
			if m.Start < 0 || m.End > len(text) || m.Start >= m.End || m.Start < last {
				t.Fatalf("Parse(%q): span [%d,%d) outside the text or out of order", text, m.Start, m.End)
			}
			if utf8.ValidString(text) && (!utf8.ValidString(text[m.Start:m.End])) {
				t.Fatalf("Parse(%q): span [%d,%d) cuts a rune", text, m.Start, m.End)
			}
			switch m.Kind {
			case Question, Answer, Topic:
			default:
				t.Fatalf("Parse(%q): kind %q", text, m.Kind)
			}
			last = m.End
		}
	})
}
