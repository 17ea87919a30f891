package xapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/pipeline/post"
)

// manyEntities builds a v2 tweet and a v1 status with n URLs, n mentions and n hashtags,
// each distinct, the way a hostile record near the size limit would.
func manyEntities(n int) (v2, v1 []byte) {
	var urls, mentions, tags, v1urls, v1mentions, v1tags strings.Builder
	for i := range n {
		if i > 0 {
			for _, b := range []*strings.Builder{&urls, &mentions, &tags, &v1urls, &v1mentions, &v1tags} {
				b.WriteByte(',')
			}
		}
		fmt.Fprintf(&urls, `{"url":"https://t.co/%d","expanded_url":"https://example.org/%d"}`, i, i)
		fmt.Fprintf(&mentions, `{"start":0,"end":1,"username":"u%d","id":"%d"}`, i, 100+i)
		fmt.Fprintf(&tags, `{"start":0,"end":1,"tag":"t%d"}`, i)
		fmt.Fprintf(&v1urls, `{"url":"https://t.co/%d","expanded_url":"https://example.org/%d"}`, i, i)
		fmt.Fprintf(&v1mentions, `{"screen_name":"u%d","id_str":"%d"}`, i, 100+i)
		fmt.Fprintf(&v1tags, `{"text":"t%d"}`, i)
	}
	v2 = fmt.Appendf(nil, `{"data":[{"id":"1780380000000000101","text":"hi","author_id":"9001","created_at":"2024-04-17T00:30:05Z",`+
		`"entities":{"urls":[%s],"mentions":[%s],"hashtags":[%s]}}],"includes":{"users":[{"id":"9001","username":"carol","name":"Carol"}]}}`,
		urls.String(), mentions.String(), tags.String())
	v1 = fmt.Appendf(nil, `{"id":1780380000000000199,"text":"hi","created_at":"Wed Apr 17 00:34:00 +0000 2024","user":{"id":9001,"screen_name":"carol"},`+
		`"entities":{"urls":[%s],"user_mentions":[%s],"hashtags":[%s]}}`, v1urls.String(), v1mentions.String(), v1tags.String())
	return v2, v1
}

// TestManyEntitiesStopAtTheLimit: a record with 100k URLs, mentions and hashtags is refused
// (the source dead-letters it) as over the limit: the parser keeps one past each limit and
// scans no further; repeats are dropped in linear time (see BenchmarkParseManyEntities).
func TestManyEntitiesStopAtTheLimit(t *testing.T) {
	v2, v1 := manyEntities(100_000)
	for _, tc := range []struct {
		name  string
		parse func([]byte, post.Source) ([]*post.Post, error)
		raw   []byte
	}{{"v2", ParseV2, v2}, {"v1", ParseV1, v1}} {
		t.Run(tc.name, func(t *testing.T) {
			posts, err := tc.parse(tc.raw, post.SourceImport)
			if err == nil || len(posts) != 0 || !strings.Contains(err.Error(), "257 mentions are over the limit of 256") {
				t.Fatalf("%d posts, error %v; want the post refused for 257 mentions", len(posts), err)
			}
		})
	}
}

// TestEntityRepeatsDropped: the same URL, mention (by id, or by handle in any case without id)
// and hashtag appear once, in first-seen order.
func TestEntityRepeatsDropped(t *testing.T) {
	p := &post.Post{URLs: []string{"https://a.example/"}, Mentions: []post.Account{{ID: "x:1", Handle: "Ann"}}}
	e := V1Entities{}
	e.URLs = append(e.URLs, Link{"https://t.co/1", "https://a.example/"}, Link{"https://t.co/2", ""})
	e.Apply(p)
	if want := []string{"https://a.example/", "https://t.co/2"}; strings.Join(p.URLs, " ") != strings.Join(want, " ") {
		t.Errorf("URLs %v, want %v", p.URLs, want)
	}
	s := newMentionSet(p.Mentions)
	s.add(post.Account{ID: "x:1", Handle: "other"})
	s.add(post.Account{Handle: "ANN"})
	s.add(post.Account{ID: "x:2", Handle: "ann"})
	s.add(post.Account{Handle: "bob"})
	s.add(post.Account{Handle: "Bob"})
	var got []string
	for _, m := range s.list {
		got = append(got, m.ID+"/"+m.Handle)
	}
	if want := "x:1/Ann x:2/ann /bob"; strings.Join(got, " ") != want {
		t.Errorf("mentions %q, want %q", strings.Join(got, " "), want)
	}
}

func BenchmarkParseManyEntities(b *testing.B) {
	v2, _ := manyEntities(100_000)
	b.SetBytes(int64(len(v2)))
	for b.Loop() {
		if _, err := ParseV2(v2, post.SourceImport); err == nil {
			b.Fatal("a post with 100k entities was accepted")
		}
	}
}
