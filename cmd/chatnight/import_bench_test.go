package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/chatnight/chatnight/pipeline/bus/bustest"
)

// writeArchive writes an X v2 archive of about mb megabytes: twarc2 search pages of
// 100 tweets with their users, one page per line, or with bare one tweet per line. It
// returns the tweets and the records (lines, or tweets in pages) written.
func writeArchive(tb testing.TB, path string, mb int, bare bool) (tweets, records int) {
	tb.Helper()
	pad := strings.Repeat("patients and clinicians ", 6)
	writeLarge(tb, path, func(w *bufio.Writer) {
		written := 0
		for page := 0; written < mb<<20; page++ {
			if bare {
				written += writeTweet(w, tweets, pad)
				w.WriteByte('\n')
				written++
				tweets++
				records++
				continue
			}
			var b strings.Builder
			b.WriteString(`{"data":[`)
			for i := range 100 {
				if i > 0 {
					b.WriteByte(',')
				}
				writeTweet(&b, tweets, pad)
				tweets++
			}
			b.WriteString(`],"includes":{"users":[`)
			for u := range 50 {
				if u > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"id":"%d","username":"user%d","name":"User %d","public_metrics":{"followers_count":%d}}`, 9000+(page*50+u)%500, (page*50+u)%500, u, 100+u)
			}
			b.WriteString(`]},"meta":{"result_count":100}}` + "\n")
			n, _ := w.WriteString(b.String())
			written += n
			records++
		}
	})
	return tweets, records
}

// writeTweet writes the n-th generated tweet, an X v2 tweet object, and returns its size.
func writeTweet(w io.Writer, n int, pad string) int {
	id := 1780390000000000000 + n
	k, _ := fmt.Fprintf(w, `{"id":"%d","author_id":"%d","text":"A%d %s #hcldr %d","created_at":"2024-04-17T00:%02d:%02d.000Z","conversation_id":"%d","lang":"en",`+
		`"entities":{"hashtags":[{"start":0,"end":6,"tag":"hcldr"}]},"public_metrics":{"retweet_count":1,"reply_count":0,"like_count":3,"quote_count":0}}`,
		id, 9000+n%500, 1+n%9, pad, n, (n/60)%60, n%60, id)
	return k
}

// writeLarge creates path and hands fill a buffered writer to it.
func writeLarge(tb testing.TB, path string, fill func(w *bufio.Writer)) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	fill(w)
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// writeMastodonArchive writes about mb megabytes of Mastodon statuses, one per line,
// each but the first a reply to the one before (by local id, as the API gives it).
func writeMastodonArchive(tb testing.TB, path string, mb int) int {
	tb.Helper()
	pad := strings.Repeat("patients and clinicians ", 20)
	n := 0
	writeLarge(tb, path, func(w *bufio.Writer) {
		for written := 0; written < mb<<20; n++ {
			id := 112300000000000000 + n
			reply := "null"
			if n > 0 {
				reply = fmt.Sprintf(`"%d"`, id-1)
			}
			k, _ := fmt.Fprintf(w, `{"id":"%d","created_at":"2024-04-17T00:%02d:%02d.%03dZ","in_reply_to_id":%s,"visibility":"public","language":"en",`+
				`"uri":"https://mastodon.example/users/u%d/statuses/%d","url":"https://mastodon.example/@u%d/%d","reblog":null,`+
				`"content":"<p>A%d %s <a href=\"https://mastodon.example/tags/hcldr\" class=\"mention hashtag\" rel=\"tag\">#<span>hcldr</span></a></p>",`+
				`"account":{"id":"%d","username":"u%d","acct":"u%d","url":"https://mastodon.example/@u%d","display_name":"User %d","followers_count":%d},`+
				`"mentions":[],"tags":[{"name":"hcldr","url":"https://mastodon.example/tags/hcldr"}],"emojis":[],"media_attachments":[],"card":null,"poll":null}`+"\n",
				id, (n/60)%60, n%60, n%1000, reply, n%700, id, n%700, id, 1+n%9, pad, n%700, n%700, n%700, n%700, n%700, 10+n%300)
			written += k
		}
	})
	return n
}

// BenchmarkImportMemory imports a generated archive of CHATNIGHT_BENCH_ARCHIVE_MB
// megabytes (default 200; CHATNIGHT_BENCH_ARCHIVE_LAYOUT=pages, bare or mastodon) with `chatnight import` as a child process against a NATS
// server in this process, and reports the child's peak RSS. The target: at most 200 MB
// for a 200 MB archive, whatever its size: the import streams.
//
//	go test -run '^$' -bench BenchmarkImportMemory -benchtime 1x ./cmd/chatnight/
func BenchmarkImportMemory(b *testing.B) {
	mb := 200
	if v := os.Getenv("CHATNIGHT_BENCH_ARCHIVE_MB"); v != "" {
		mb, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "archive.jsonl")
	layout := os.Getenv("CHATNIGHT_BENCH_ARCHIVE_LAYOUT") // pages (default), bare or mastodon
	format := "x-v2"
	var tweets, records int
	if layout == "mastodon" {
		format = "mastodon"
		tweets = writeMastodonArchive(b, file, mb)
		records = tweets
	} else {
		tweets, records = writeArchive(b, file, mb, layout == "bare")
	}
	for b.Loop() {
		n := bustest.StartIn(b, filepath.Join(b.TempDir(), "nats"))
		// The first import publishes everything; the second finds it all published.
		for i, want := range []string{fmt.Sprintf("published %d posts", tweets), fmt.Sprintf("published 0 posts from 1 file(s): %d records read, %d duplicates", records, tweets)} {
			cmd := exec.Command(os.Args[0], "import", "--community", "hcldr", "--format", format, "--nats-url", n.URL, file)
			cmd.Env = append(os.Environ(), envTestMain+"=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("import: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), want) {
				b.Fatalf("import %d said:\n%s\nwant %q", i+1, out, want)
			}
			rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
			b.ReportMetric(rss, []string{"peak-rss-MB", "reimport-peak-rss-MB"}[i])
			if rss > 200 {
				b.Errorf("import %d: peak RSS %.0f MB for a %d MB archive, want at most 200 MB", i+1, rss, mb)
			}
		}
		b.ReportMetric(float64(mb), "archive-MB")
	}
}
