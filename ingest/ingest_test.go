package ingest_test

import (
	"testing"

	"github.com/chatnight/chatnight/ingest"
)

func TestCompareIDs(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"longer is newer", "99", "100", -1},
		{"shorter is older", "100", "99", 1},
		{"same length by digits", "113370000000000107", "113370000000000001", 1},
		{"equal", "1780370000000000050", "1780370000000000050", 0},
		{"ulids of one length bytewise", "01HZY0000000000000000000AB", "01HZY0000000000000000000AA", 1},
	}
	for _, tt := range tests {
		if got := ingest.CompareIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: CompareIDs(%q, %q) = %d, want %d", tt.name, tt.a, tt.b, got, tt.want)
		}
	}
}
