package storage

import "testing"

func TestArrayParam(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, "[]"},
		{[]string{"hcldr-C20261130T023000Z"}, "['hcldr-C20261130T023000Z']"},
		{[]string{"a", "b"}, "['a','b']"},
		{[]string{`it's`, `back\slash`, `']); DROP TABLE x; --`}, `['it\'s','back\\slash','\']); DROP TABLE x; --']`},
	} {
		if got := ArrayParam(tt.in); got != tt.want {
			t.Errorf("ArrayParam(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
