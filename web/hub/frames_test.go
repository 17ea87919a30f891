package hub

import (
	"encoding/json"
	"testing"
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
