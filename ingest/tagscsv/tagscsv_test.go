package tagscsv

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/ingest/ingesttest"
	"github.com/chatnight/chatnight/pipeline/post"
)

func readAll(t *testing.T, r io.Reader) []Row {
	t.Helper()
	rd, err := NewReader(r, post.SourceImport)
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	for {
		row, err := rd.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
}

var ts = ingesttest.Time

func TestReadTAGS(t *testing.T) {
	f, err := os.Open("testdata/hcldr.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := readAll(t, f)
	if len(rows) != 8 {
		t.Fatalf("rows = %d, want 8", len(rows))
	}
	wantLines := []int{2, 3, 4, 6, 7, 8, 9, 10}
	for i, r := range rows {
		if r.Line != wantLines[i] {
			t.Errorf("row %d starts on line %d, want %d", i, r.Line, wantLines[i])
		}
	}
	file, _ := os.ReadFile("testdata/hcldr.csv")
	fileLines := strings.SplitAfter(string(file), "\n")
	// Raw is the row's exact bytes, a quoted line break included.
	if got, want := string(rows[2].Raw), strings.TrimRight(fileLines[3]+fileLines[4], "\n"); got != want {
		t.Errorf("raw of the two-line row = %q, want %q", got, want)
	}
	for _, i := range []int{5, 7} {
		if rows[i].Err == nil || rows[i].Post != nil {
			t.Errorf("row on line %d: want an error, got %+v", rows[i].Line, rows[i].Post)
		}
	}
	if !strings.Contains(rows[5].Err.Error(), "rounded") || !strings.Contains(rows[7].Err.Error(), "created_at") {
		t.Errorf("errors = %v / %v", rows[5].Err, rows[7].Err)
	}
	// The repeated row reads the same: the importer drops the repeat.
	if rows[1].Post.ID != rows[4].Post.ID || !bytes.Equal(rows[1].Raw, rows[4].Raw) {
		t.Errorf("repeated row differs: %s vs %s", rows[1].Post.ID, rows[4].Post.ID)
	}

	want := map[int]*post.Post{
		0: {
			ID: "x:1780380000000000102", Source: post.SourceImport, Kind: post.KindRepost,
			Author:    post.Account{ID: "x:9003", Handle: "dave_it"}, // followers NA
			CreatedAt: ts("2024-04-17T00:31:00Z"),
			Text:      "RT @bob_rn: Leaders: what would change if patients sat on every board? Long thought thread ahead for #hc…",
			URL:       "https://x.com/dave_it/status/1780380000000000102",
			// TAGS does not keep the retweeted id; the author comes from the RT mention
			RepostOfAuthorID: "x:9002",
			Mentions:         []post.Account{{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN"}},
		},
		1: {
			ID: "x:1780380000000000101", Source: post.SourceImport, Kind: post.KindOriginal,
			Author:    post.Account{ID: "x:9001", Handle: "carol_md", Followers: 12034},
			CreatedAt: ts("2024-04-17T00:30:05Z"), // created_at, not the hour-off time column
			Text:      "T1 Welcome to #HCLDR! Tonight @bob_rn leads us on patient voice & trust https://t.co/aaa111",
			URL:       "https://x.com/carol_md/status/1780380000000000101",
			Mentions:  []post.Account{{ID: "x:9002", Handle: "bob_rn", Name: "Bob RN"}},
			Hashtags:  []string{"hcldr"}, URLs: []string{"https://example.org/hcldr/topic"},
		},
		2: {
			ID: "x:1780380000000000103", Source: post.SourceImport, Kind: post.KindReply,
			Author:    post.Account{ID: "x:9002", Handle: "bob_rn", Followers: 512},
			CreatedAt: ts("2024-04-17T00:32:10Z"),
			Text:      "@carol_md T1 trust is earned\nin small moments #hcldr #PatientExperience",
			URL:       "https://x.com/bob_rn/status/1780380000000000103",
			ReplyToID: "x:1780380000000000101", ReplyToAuthorID: "x:9001",
			Mentions: []post.Account{{ID: "x:9001", Handle: "carol_md", Name: "Carol MD"}},
			Hashtags: []string{"hcldr", "patientexperience"},
		},
		3: { // entities_str NA: taken from the text
			ID: "x:1780380000000000104", Source: post.SourceImport, Kind: post.KindOriginal,
			Author:    post.Account{ID: "x:9004", Handle: "frank_ceo", Followers: 77},
			CreatedAt: ts("2024-04-17T00:33:00Z"),
			Text:      "This, exactly. #HCLDR #2024 @Erin_PA see https://example.org/boards. and #hcldr again",
			URL:       "https://x.com/frank_ceo/status/1780380000000000104",
			Mentions:  []post.Account{{Handle: "Erin_PA"}},
			Hashtags:  []string{"hcldr"},
			URLs:      []string{"https://example.org/boards"},
		},
		6: { // a retweet without entities: its original's author is unknown
			ID: "x:1780380000000000106", Source: post.SourceImport, Kind: post.KindRepost,
			Author:    post.Account{ID: "x:9103", Handle: "hank_cio", Followers: 9},
			CreatedAt: ts("2024-04-17T00:35:00Z"),
			Text:      "RT @carol_md: T1 Welcome to #HCLDR! Tonight @bob_rn leads us on patient voice & trust https://t.co/aaa…",
			URL:       "https://x.com/hank_cio/status/1780380000000000106",
			Mentions:  []post.Account{{Handle: "carol_md"}, {Handle: "bob_rn"}},
			Hashtags:  []string{"hcldr"},
		},
	}
	for i, w := range want {
		got := rows[i].Post
		if rows[i].Err != nil {
			t.Errorf("row %d: %v", i, rows[i].Err)
			continue
		}
		gv, wv := reflect.ValueOf(*got), reflect.ValueOf(*w)
		for f := 0; f < gv.NumField(); f++ {
			name := gv.Type().Field(f).Name
			if name == "Raw" {
				continue
			}
			if !reflect.DeepEqual(gv.Field(f).Interface(), wv.Field(f).Interface()) {
				t.Errorf("%s: %s = %#v, want %#v", w.ID, name, gv.Field(f).Interface(), wv.Field(f).Interface())
			}
		}
		var raw map[string]string
		if err := json.Unmarshal(got.Raw, &raw); err != nil || raw["id_str"] != strings.TrimPrefix(w.ID, "x:") || raw["geo_coordinates"] != "" {
			t.Errorf("%s: Raw = %s, want the non-NA cells by column", w.ID, got.Raw)
		}
	}
	golden(t, "hcldr.jsonl", rows)
}

func golden(t *testing.T, name string, rows []Row) {
	t.Helper()
	var posts []*post.Post
	for _, r := range rows {
		if r.Post != nil {
			posts = append(posts, r.Post)
		}
	}
	ingesttest.Golden(t, name, ingesttest.PostsLines(t, posts))
}

func TestHeaderProblems(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no header"},
		{"not tags", "a,b,c\n1,2,3\n", "lacks column(s) id_str, from_user, from_user_id_str, text, created_at"},
		{"some missing", "id_str,from_user,text\n", "from_user_id_str, created_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tc.in), post.SourceImport)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A BOM and reordered columns are fine; short rows are errors, not crashes.
	rows := readAll(t, strings.NewReader("\ufeffcreated_at,text,from_user_id_str,from_user,id_str\r\n"+
		"Wed Apr 17 00:30:05 +0000 2024,hi #HITsm,1,a,5\r\n"+
		"Wed Apr 17 00:30:05 +0000 2024,short\r\n"))
	if len(rows) != 2 || rows[0].Err != nil || rows[0].Post.ID != "x:5" || rows[0].Post.Hashtags[0] != "hitsm" || string(rows[0].Raw) != "Wed Apr 17 00:30:05 +0000 2024,hi #HITsm,1,a,5" {
		t.Fatalf("rows = %+v", rows)
	}
	if rows[1].Err == nil || rows[1].Line != 3 {
		t.Fatalf("short row = %+v", rows[1])
	}
}
