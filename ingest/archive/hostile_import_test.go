package archive

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestImportDevZero: `import --format F /dev/zero` for every format ends soon after it is
// interrupted (SIGINT cancels the context), or at once with an error saying the input is not
// such an archive, and its heap stays bounded while it reads: no format takes the whole
// input, a header or a line into memory.
func TestImportDevZero(t *testing.T) {
	e := newEnv(t)
	for _, format := range FormatNames() {
		t.Run(format, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var peak uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var ms runtime.MemStats
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := Import(ctx, Options{Community: hcldr, Format: format}, e.emitter(), "/dev/zero")
				done <- err
			}()
			// Interrupt after a second and a half, as Ctrl-C would.
			var err error
			select {
			case err = <-done:
			case <-time.After(1500 * time.Millisecond):
				cancel()
				select {
				case err = <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("still reading /dev/zero 10 s after the interrupt")
				}
			}
			close(stop)
			<-sampled
			t.Logf("%s: ended after %v with %v; peak heap %d MiB", format, time.Since(start).Round(time.Millisecond), err, peak>>20)
			if err == nil {
				t.Error("no error: /dev/zero is no archive, and the import was interrupted")
			}
			if ctx.Err() == nil && !strings.Contains(err.Error(), "not a") && !strings.Contains(err.Error(), "over") {
				t.Errorf("error %q does not say what is wrong with the input", err)
			}
			if peak > 512<<20 {
				t.Errorf("peak heap %d MiB while reading /dev/zero", peak>>20)
			}
		})
	}
}
