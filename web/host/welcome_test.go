package host

import (
	"fmt"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	m := func(v float64) *float64 { return &v }
	nc := func(welcomed, returned bool, minutes *float64, welcomers ...string) Newcomer {
		n := Newcomer{Welcomed: welcomed, Returned: returned, MinutesToWelcome: minutes, handles: map[string]string{}}
		for _, w := range welcomers {
			n.welcomers = append(n.welcomers, "sim:"+w)
			n.handles["sim:"+w] = w
		}
		return n
	}
	tests := []struct {
		name string
		in   []Newcomer
		want string
	}{
		{"nobody", nil, "0/0 share=null median=null returned=0/0 rates=null/null ratio=null welcomers=[]"},
		{"odd median", []Newcomer{nc(true, true, m(1), "ana"), nc(true, false, m(4), "ana", "ben"), nc(true, false, m(2), "ben")},
			"3/3 share=1.00 median=2.00 returned=1/0 rates=0.33/null ratio=null welcomers=[ana:2 ben:2]"},
		{"even median, answered too late is not welcomed", []Newcomer{nc(true, true, m(1), "ana"), nc(true, true, m(3), "cy"),
			nc(false, true, m(12)), nc(false, false, nil)},
			"2/4 share=0.50 median=2.00 returned=2/1 rates=1.00/0.50 ratio=2.00 welcomers=[ana:1 cy:1]"},
	}
	f := func(p *float64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%.2f", *p)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := summarize(tt.in, 10*time.Minute, nil)
			var ws []string
			for _, x := range w.Welcomers {
				ws = append(ws, fmt.Sprintf("%s:%d", x.Handle, x.Newcomers))
			}
			if ws == nil {
				ws = []string{}
			}
			got := fmt.Sprintf("%d/%d share=%s median=%s returned=%d/%d rates=%s/%s ratio=%s welcomers=%v", w.Welcomed, w.Newcomers,
				f(w.WelcomedShare), f(w.MedianMinutesToWelcome), w.ReturnedWelcomed, w.ReturnedUnwelcomed,
				f(w.ReturnRateWelcomed), f(w.ReturnRateUnwelcomed), f(w.ReturnRatio), ws)
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if w.WindowMinutes != 10 {
				t.Errorf("window %v", w.WindowMinutes)
			}
		})
	}
}
