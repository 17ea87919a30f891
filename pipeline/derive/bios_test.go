package derive

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"

	"github.com/chatnight/chatnight/ingest/bluesky"
	"github.com/chatnight/chatnight/ingest/mastodon"
	"github.com/chatnight/chatnight/ingest/xapi"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/bios/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// bioPosts parses one post from each network, through each source's own parser, with
// the author's bio where each network carries it: X includes.users[].description,
// the Mastodon account note, the Bluesky profile description from getProfile.
func bioPosts(t *testing.T) []*post.Post {
	t.Helper()
	var posts []*post.Post
	xs, err := xapi.ParseV2(readTestdata(t, "x_v2.json"), post.SourceX)
	if err != nil {
		t.Fatal(err)
	}
	posts = append(posts, xs...)
	ms, err := mastodon.ParseStatus(readTestdata(t, "mastodon.json"), post.SourceMastodon)
	if err != nil {
		t.Fatal(err)
	}
	posts = append(posts, ms...)

	profile := readTestdata(t, "getprofile.json")
	appview := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(profile)
	}))
	defer appview.Close()
	profiles := bluesky.NewProfiles(appview.URL, appview.Client(), nil)
	if _, ok := profiles.Resolve(context.Background(), "did:plc:patientbea2q7xy8z9ab3cd4"); !ok {
		t.Fatal("profile not resolved")
	}
	bs, err := bluesky.Parser{Profile: profiles.Get}.ParseEvent(readTestdata(t, "jetstream.json"), post.SourceBluesky)
	if err != nil {
		t.Fatal(err)
	}
	posts = append(posts, bs...)
	for _, p := range posts {
		p.Community = "hcldr"
		p.Normalize()
	}
	if len(posts) != 3 {
		t.Fatalf("%d posts, want one per network", len(posts))
	}
	return posts
}

func TestAuthorsBiosGetDefaultSegmentsWithReasons(t *testing.T) {
	posts := bioPosts(t)
	d := New(community.Defaults(), threads.NewMemory(), clock())
	b, err := d.Derive(context.Background(), posts)
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.SegmentRow{
		{Community: "hcldr", AccountID: "x:2001", Segments: []string{"nurse"},
			Reasons: []string{`nurse: bio contains "nurs*"`}, Version: 1795570860000},
		{Community: "hcldr", AccountID: "mastodon:colin@hc.example", Segments: []string{"health_it", "consultant"},
			Reasons: []string{`health_it: bio contains "health IT"`, `consultant: bio contains "consultant"`}, Version: 1795570920000},
		{Community: "hcldr", AccountID: "bluesky:did:plc:patientbea2q7xy8z9ab3cd4", Segments: []string{"patient", "advocate"},
			Reasons: []string{`patient: bio contains "patient"`, `advocate: bio contains "advocate"`}, Version: 1795570980000},
	}
	if !reflect.DeepEqual(b.Segments, want) {
		t.Errorf("segments:\n got %+v\nwant %+v", b.Segments, want)
	}
	// The posts rows keep no bio.
	for _, r := range b.Posts {
		if r.Text == "" || r.AuthorID == "" {
			t.Fatalf("post row %+v", r)
		}
	}
	// The Mastodon author's verified link is claimed as evidence; nobody else's.
	var evidence []storage.ClaimRow
	for _, c := range b.Claims {
		if c.Reason != "" {
			evidence = append(evidence, c)
		}
	}
	wantEvidence := []storage.ClaimRow{
		{AccountID: "mastodon:colin@hc.example", Claim: "handle:bluesky:colin.example.com",
			Reason: "verified Mastodon link https://colin.example.com is Bluesky handle @colin.example.com", Version: b.Claims[0].Version},
		{AccountID: "mastodon:colin@hc.example", Claim: "url:colin.example.com",
			Reason: "same verified link https://colin.example.com", Version: b.Claims[0].Version},
	}
	if !reflect.DeepEqual(evidence, wantEvidence) {
		t.Errorf("evidence claims:\n got %+v\nwant %+v", evidence, wantEvidence)
	}
}

// A community's overrides apply to its authors only, and a newer bio replaces an older
// one whichever is derived last.
func TestSegmentOverridesAndNewestBio(t *testing.T) {
	cfg, err := community.Parse("test.yaml", []byte(`
communities:
  - id: hcldr
    hashtags: [hcldr]
    segments:
      - {name: nurse, disabled: true}
      - {name: icu, label: ICU, keywords: [ICU]}
`))
	if err != nil {
		t.Fatal(err)
	}
	posts := bioPosts(t)
	d := New(cfg, threads.NewMemory(), clock())
	b, err := d.Derive(context.Background(), posts[:1])
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Segments; len(got) != 1 || !reflect.DeepEqual(got[0].Segments, []string{"icu"}) ||
		!reflect.DeepEqual(got[0].Reasons, []string{`icu: bio contains "ICU"`}) {
		t.Errorf("overridden segments %+v", got)
	}
	older := *posts[0]
	older.ID = "x:1"
	older.CreatedAt = older.CreatedAt.Add(-24 * 3600e9)
	older.Author.Bio = "Retired."
	b, err = d.Derive(context.Background(), []*post.Post{posts[0], &older})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Segments) != 1 || b.Segments[0].Version != uint64(posts[0].CreatedAt.UnixMilli()) || len(b.Segments[0].Segments) != 1 {
		t.Errorf("the newest bio should win: %+v", b.Segments)
	}
}
