package post

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func compactSample() *Post {
	return &Post{
		ID: "x:1", Source: SourceX, Community: "hcldr", Kind: KindReply,
		Author: Account{ID: "x:9", Handle: "amy", Name: "Amy", Followers: 42, Bio: "ICU nurse (RN)", VerifiedLinks: []string{"https://amy.example"},
			Consent: &Consent{NoIndex: true}},
		CreatedAt: time.Date(2026, 11, 25, 1, 30, 0, 123_000_000, time.UTC),
		Text:      "A1: <b>bold</b> & \"quoted\" \u2028 #HCLDR ✓", Lang: "en", URL: "https://x.com/amy/status/1",
		ReplyToID: "x:0", ReplyToAuthorID: "x:8", RootID: "x:0", QuoteOfID: "x:5", QuoteOfAuthorID: "x:6",
		RepostOfID: "x:7", RepostOfAuthorID: "x:4",
		Mentions: []Account{{ID: "x:8", Handle: "bob", Followers: 1 << 40}, {Handle: "cy"}}, Hashtags: []string{"hcldr", "hitsm"},
		URLs: []string{"https://e.org"}, Raw: []byte(`{"id":"1","t":"✓"}`),
	}
}

// TestCompactDecodesAsJSONDoes: both encodings of the same posts decode to the same
// posts, so the processor derives the same rows whichever a publisher used.
func TestCompactDecodesAsJSONDoes(t *testing.T) {
	bare := &Post{ID: "sim:2", Source: SourceSim, Community: "c", Author: Account{ID: "sim:a"},
		CreatedAt: time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC)}
	posts := []*Post{compactSample(), bare}
	js, err := Encode(nil, posts...)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, bad := DecodeAs(EncodingJSON, js)
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	fromCompact, bad := DecodeAs(EncodingCompact, EncodeCompact(nil, posts...))
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	if !reflect.DeepEqual(fromCompact, fromJSON) {
		t.Errorf("compact and JSON differ:\ncompact %+v\n   json %+v", fromCompact[0], fromJSON[0])
	}
}

// TestCompactKeepsGoodRecordsAroundBadOnes: a broken record is parked alone.
func TestCompactKeepsGoodRecordsAroundBadOnes(t *testing.T) {
	good := EncodeCompact(nil, compactSample())
	invalid := compactSample()
	invalid.Source = "fax"
	var body []byte
	body = append(body, good...)
	body = append(body, EncodeCompact(nil, invalid)...) // fails Validate
	body = append(body, 3, 0xff, 0xff, 0xff)            // a record of garbage
	body = append(body, good...)
	body = append(body, binary.AppendUvarint(nil, 1000)...) // runs past the end
	body = append(body, "xyz"...)
	posts, bad := DecodeCompact(body)
	if len(posts) != 2 {
		t.Errorf("%d good posts, want 2", len(posts))
	}
	var lines []int
	for _, b := range bad {
		lines = append(lines, b.Line)
	}
	if !reflect.DeepEqual(lines, []int{2, 3, 5}) {
		t.Errorf("bad records %v, want 2, 3 and 5: %v", lines, bad)
	}
	if !strings.Contains(bad[0].Err.Error(), "fax") {
		t.Errorf("the invalid post's reason is %v", bad[0].Err)
	}
}

func TestCompactRefusesHostileSizes(t *testing.T) {
	p := compactSample()
	p.Hashtags = make([]string, MaxHashtags+1)
	_, bad := DecodeCompact(EncodeCompact(nil, p))
	if len(bad) != 1 || !strings.Contains(bad[0].Err.Error(), "hashtags") {
		t.Errorf("too many hashtags: %v", bad)
	}
	p = compactSample()
	p.Text = "\xff"
	_, bad = DecodeCompact(EncodeCompact(nil, p))
	if len(bad) != 1 || !strings.Contains(bad[0].Err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", bad)
	}
	_, bad = DecodeAs("xml/7", []byte("<post/>"))
	if len(bad) != 1 || !strings.Contains(bad[0].Err.Error(), "unknown posts encoding") {
		t.Errorf("unknown encoding: %v", bad)
	}
}

// FuzzDecodeCompact: whatever a compact body holds, decoding neither panics nor
// returns an invalid post, and what it returns encodes back to the same posts.
func FuzzDecodeCompact(f *testing.F) {
	f.Add(EncodeCompact(nil, compactSample()))
	f.Add([]byte{5, 1, 2, 3, 4, 5, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		posts, bad := DecodeCompact(body)
		for _, b := range bad {
			if b.Err == nil || b.Line < 1 {
				t.Fatalf("bad record without a reason or number: %+v", b)
			}
		}
		for _, p := range posts {
			if err := p.Validate(); err != nil {
				t.Fatalf("an invalid post: %v", err)
			}
		}
		again, bad := DecodeCompact(EncodeCompact(nil, posts...))
		if len(bad) != 0 || len(again) != len(posts) || (len(posts) > 0 && !reflect.DeepEqual(again, posts)) {
			t.Fatalf("re-encoded posts differ: %d bad", len(bad))
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	var posts []*Post
	for i := 0; i < 500; i++ {
		p := compactSample()
		p.ID = "x:" + strings.Repeat("1", i%20+1)
		posts = append(posts, p)
	}
	js, _ := Encode(nil, posts...)
	compact := EncodeCompact(nil, posts...)
	for _, c := range []struct {
		name string
		enc  string
		body []byte
	}{{"json", EncodingJSON, js}, {"compact", EncodingCompact, compact}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if ps, bad := DecodeAs(c.enc, c.body); len(ps) != 500 || len(bad) != 0 {
					b.Fatal(len(ps), bad)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*500), "µs/post")
		})
	}
}

// TestCompactDecodesEveryVersion: a record of each layout ever published decodes, under
// its version's name, to the post it carried: compact/1 without and with the bio tail,
// compact/2 with consent only, compact/3 (written now) with both. The frozen bytes of a
// small post catch a layout changed without a new name.
func TestCompactDecodesEveryVersion(t *testing.T) {
	full := compactSample()
	bioOnly, consentOnly, bare := compactSample(), compactSample(), compactSample()
	bioOnly.Author.Consent = nil
	consentOnly.Author.Bio, consentOnly.Author.VerifiedLinks = "", nil
	bare.Author.Bio, bare.Author.VerifiedLinks, bare.Author.Consent = "", nil, nil
	record := func(fields []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(fields))), fields...) }
	base := appendBase(nil, full)
	for _, c := range []struct {
		name, encoding string
		body           []byte
		want           *Post
	}{
		{"compact/1", EncodingCompactV1, record(base), bare},
		{"compact/1 with bio", EncodingCompactV1, record(appendBio(append([]byte{}, base...), &full.Author)), bioOnly},
		{"compact/2", EncodingCompactV2, record(appendConsent(append([]byte{}, base...), full.Author.Consent)), consentOnly},
		{"compact/3", EncodingCompactV3, EncodeCompact(nil, full), full},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, bad := DecodeAs(c.encoding, c.body)
			if len(bad) != 0 || len(got) != 1 {
				t.Fatalf("%d posts, bad %v", len(got), bad)
			}
			want := *c.want
			want.Normalize()
			if !reflect.DeepEqual(got[0], &want) {
				t.Errorf("decoded\n %+v\nwant\n %+v", got[0], &want)
			}
		})
	}
	// A compact/2 record is not a compact/3 one: its consent byte is no bio.
	if _, bad := DecodeAs(EncodingCompactV3, record(appendConsent(append([]byte{}, base...), full.Author.Consent))); len(bad) != 1 {
		t.Errorf("compact/2 bytes read as compact/3: %v", bad)
	}

	small := &Post{ID: "sim:1", Source: SourceSim, Community: "c", Kind: KindOriginal, Author: Account{ID: "sim:a", Bio: "RN"},
		CreatedAt: time.Unix(1, 0).UTC(), Text: "hi"}
	small.Author.Consent = &Consent{Indexable: true}
	// length, id, source, community, kind, author (id, handle, name, followers), time,
	// text, nine empty strings, four empty lists, bio "RN", no links, consent 1|4.
	const frozen = "35" + "0573696d3a31" + "0373696d" + "0163" + "086f726967696e616c" + "0573696d3a61000000" + "0200" +
		"026869" + "000000000000000000" + "00000000" + "02524e" + "00" + "05"
	if got := fmt.Sprintf("%x", EncodeCompact(nil, small)); got != frozen {
		t.Errorf("compact/3 bytes of a small post\n %s\nwant\n %s\n(a changed layout needs a new version name)", got, frozen)
	}
}
