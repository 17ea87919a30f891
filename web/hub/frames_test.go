package hub

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/pipeline/live"
)

func TestLiveFrame(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr bool
		events  int
	}{
		{"one event", `{"type":"post","community":"c","post":{"id":"a","text":"<b>x</b>"}}` + "\n", false, 1},
		{"two events, blank line", `{"type":"post"}` + "\n\n" + `{"type":"stats"}` + "\n", false, 2},
		{"no events", "", false, 0},
		{"not JSON", "nope\n", true, 0},
		{"two objects on a line", `{"type":"post"}{"type":"post"}` + "\n", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := liveFrame(42, []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var m Live
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			if m.Type != TypeLive || m.Seq != 42 || len(m.Events) != tt.events {
				t.Errorf("got %+v", m)
			}
			if seq, ok := SeqOf(data); !ok || seq != 42 {
				t.Errorf("SeqOf = %d, %v", seq, ok)
			}
		})
	}
}

// TestLiveFrameNamesPeople checks each live post carries its author's person from
// Options.People, asked once per message, and that a post whose author it says nothing
// of is left as it is.
func TestLiveFrameNamesPeople(t *testing.T) {
	asked := 0
	h := &Hub{opts: Options{People: func(_ context.Context, community string, accounts []string) map[string]*live.Person {
		asked++
		if community != "c" || strings.Join(accounts, ",") != "x:1,mastodon:a@b.example,x:2" {
			t.Errorf("asked about %s %v", community, accounts)
		}
		return map[string]*live.Person{"x:1": {ID: "mastodon:a@b.example", Why: []string{"declared"}, Segments: []live.Segment{{Segment: "nurse", Reason: `nurse: bio contains "RN"`}}},
			"mastodon:a@b.example": {ID: "mastodon:a@b.example"}}
	}}}
	body := `{"type":"post","community":"c","post":{"id":"p1","author_id":"x:1"}}` + "\n" +
		`{"type":"post","community":"c","post":{"id":"p2","author_id":"mastodon:a@b.example"}}` + "\n" +
		`{"type":"post","community":"c","post":{"id":"p3","author_id":"x:2"}}` + "\n" +
		`{"type":"stats","community":"c","stats":{"posts":3}}` + "\n"
	data, err := h.liveFrame(context.Background(), "c", 7, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var m Live
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range m.Events {
		if e.Post == nil {
			continue
		}
		b, _ := json.Marshal(e.Post.Person)
		got = append(got, e.Post.ID+"="+string(b))
	}
	want := []string{
		`p1={"id":"mastodon:a@b.example","why":["declared"],"segments":[{"segment":"nurse","reason":"nurse: bio contains \"RN\""}]}`,
		`p2={"id":"mastodon:a@b.example"}`,
		`p3=null`,
	}
	if asked != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("asked %d times; people:\n%s\nwant\n%s", asked, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
