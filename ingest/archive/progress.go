package archive

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress reports how far an import got: a bar redrawn in place on a terminal,
// otherwise a plain line now and then (for logs and CI).
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration
	now      func() time.Time

	name    string
	size    int64 // 0 when unknown (a pipe)
	started time.Time
	last    time.Time
	drawn   bool
}

// firstProgress is when the first progress line of a file comes at the latest.
const firstProgress = time.Second

func newProgress(w io.Writer, terminal bool, every time.Duration) *progress {
	if every <= 0 {
		every = 10 * time.Second
		if terminal {
			every = 200 * time.Millisecond
		}
	}
	return &progress{w: w, terminal: terminal, every: every, now: time.Now}
}

func (p *progress) startFile(name string, size int64) {
	p.name, p.size = name, size
	p.started = p.now()
	p.last = p.started
	p.drawn = false
}

func (p *progress) update(read int64, s Summary) {
	if p.w == nil {
		return
	}
	now := p.now()
	// The first line comes soon, so a log shows early that the import is moving and
	// how fast; then one per interval.
	every := p.every
	if !p.drawn {
		every = min(every, firstProgress)
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	p.write(read, s, false)
}

func (p *progress) endFile(read int64, s Summary) {
	if p.w == nil {
		return
	}
	if p.terminal || p.drawn {
		p.write(read, s, true)
	}
}

func (p *progress) write(read int64, s Summary, final bool) {
	elapsed := p.now().Sub(p.started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(s.Read) / elapsed.Seconds()
	}
	var b strings.Builder
	if p.terminal {
		b.WriteString("\r\033[K")
	}
	fmt.Fprintf(&b, "%s ", p.name)
	if p.size > 0 {
		frac := min(float64(read)/float64(p.size), 1)
		if p.terminal {
			const width = 24
			fill := int(frac * width)
			b.WriteString("[" + strings.Repeat("=", fill) + strings.Repeat(" ", width-fill) + "] ")
		}
		fmt.Fprintf(&b, "%3.0f%% %s/%s", frac*100, bytesString(read), bytesString(p.size))
	} else {
		b.WriteString(bytesString(read))
	}
	fmt.Fprintf(&b, "  %d records, %d invalid  %.0f records/s", s.Read, s.Invalid, rate)
	if p.size > 0 && read > 0 && read < p.size && !final {
		eta := time.Duration(float64(elapsed) * float64(p.size-read) / float64(read))
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	if final {
		fmt.Fprintf(&b, "  done in %s", elapsed.Round(time.Millisecond))
	}
	if !p.terminal || final {
		b.WriteString("\n")
	}
	io.WriteString(p.w, b.String())
	p.drawn = true
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
