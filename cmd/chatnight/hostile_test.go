package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/post"
)

// deadLetters returns the DEADLETTER stream's messages on subject as reason headers.
func deadLetters(t *testing.T, js jetstream.JetStream, subject string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, bus.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted
		}
		if m.Subject == subject {
			reasons = append(reasons, m.Header.Get(bus.HeaderError))
		}
	}
	return reasons
}

// TestHostileInputThroughPipeline publishes malformed, oversized and odd posts straight
// onto the posts stream and through the archive importer of a running chatnight: the
// good posts around them land in ClickHouse, each bad line is on the DEADLETTER stream
// with its reason, the dead letters are counted in /metrics, and the processor keeps
// going.
func TestHostileInputThroughPipeline(t *testing.T) {
	n := newNode(t, t.TempDir())
	n.start("run")
	ctx := context.Background()
	nc, js, err := bus.Connect(ctx, n.natsURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	now := time.Now().UTC().Truncate(time.Second)
	good := func(id, text string, tags ...string) []byte {
		b, err := post.Encode(nil, &post.Post{
			ID: "x:" + id, Source: post.SourceX, Community: "hcldr", Author: post.Account{ID: "x:a" + id, Handle: "user" + id},
			CreatedAt: now.Add(-time.Hour), Text: text, Hashtags: tags,
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	line := func(id string, mut func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good(id, "ok"), &m); err != nil {
			t.Fatal(err)
		}
		mut(m)
		b, _ := json.Marshal(m)
		return append(b, '\n')
	}
	mentions := make([]map[string]string, 5000)
	for i := range mentions {
		mentions[i] = map[string]string{"handle": fmt.Sprint("m", i)}
	}
	hostile := [][]byte{
		[]byte(`{"id":"x:bad1","source":"x","community":"hcl` + "\n"),                                       // truncated
		[]byte(`{"id":"x:bad2",,,}` + "\n"),                                                                 // malformed
		[]byte("{\"id\":\"x:bad3\",\"text\":\"\xff\xfe\xfd\"}\n"),                                           // invalid UTF-8
		line("bad4", func(m map[string]any) { m["text"] = "a\x00b" }),                                       // NUL byte
		line("bad5", func(m map[string]any) { m["text"] = strings.Repeat("x", 1<<20) }),                     // 1 MB post
		[]byte(`{"id":"x:bad6","raw":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}\n"), // deeply nested
		line("bad7", func(m map[string]any) { m["mentions"] = mentions }),                                   // huge mention list
		line("bad8", func(m map[string]any) { m["created_at"] = "1601-01-01T00:00:00Z" }),                   // far past
		line("bad9", func(m map[string]any) { m["created_at"] = "2999-01-01T00:00:00Z" }),                   // far future
		line("bad10", func(m map[string]any) { m["community"] = "hcldr' OR 1=1 --" }),                       // hostile community
	}
	// Good posts: plain, HTML and script, odd Unicode hashtags, and one id sent twice
	// with different content.
	var body []byte
	body = append(body, good("1", "plain #hcldr", "hcldr")...)
	body = append(body, hostile[0]...)
	body = append(body, good("2", `<script>alert("x")</script><img src=x onerror=alert(1)>`)...)
	for _, h := range hostile[1:] {
		body = append(body, h...)
	}
	body = append(body, good("3", "＃ＨＣＬＤＲ café cafe\u0301 #HCLDR", "＃HCLDR", "Cafe\u0301")...)
	msgs := [][]byte{
		body,
		good("4", "first version"),
		good("4", "second version, same id"),
		[]byte("\x00\x01\x02 not json at all"),
		{},
	}
	for i, b := range msgs {
		m := nats.NewMsg(bus.PostsSubject("hcldr", post.SourceX))
		m.Data = b
		m.Header.Set(nats.MsgIdHdr, fmt.Sprint("hostile-", i))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publish message %d (%d bytes): %v", i, len(b), err)
		}
	}
	wantBad := len(hostile) + 1 // and the binary message

	// The archive importer: good tweets of a real export around broken records.
	export, err := os.ReadFile("../../ingest/archive/testdata/hcldr_v2.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var single, bare string // a {"data":{...}} record and a bare tweet
	for _, l := range strings.Split(string(export), "\n") {
		switch {
		case strings.HasPrefix(l, `{"data":{"id":"1780380000000000105"`):
			single = l
		case strings.HasPrefix(l, `{"id":"1780380000000000106"`):
			bare = l
		}
	}
	future := strings.Replace(strings.Replace(bare, `"created_at":"2024-`, `"created_at":"2999-`, 1), "1780380000000000106", "1780380000000000906", 1)
	if future == bare || !strings.Contains(single, "1780380000000000105") {
		t.Fatal("fixture changed: pick other lines")
	}
	archive := strings.Join([]string{
		single,
		`{"data":[{"id":"1","text":"trunc`,
		"{\"data\":[{\"id\":\"2\",\"text\":\"\xff\"}]}",
		future,
		bare,
	}, "\n") + "\n"
	file := filepath.Join(t.TempDir(), "hostile.jsonl")
	if err := os.WriteFile(file, []byte(archive), 0o644); err != nil {
		t.Fatal(err)
	}
	out := chatnight(t, "import", "--community", "hitsm", "--format", "x-v2", "--nats-url", n.natsURL(), file)
	t.Logf("import: %s", strings.TrimSpace(out))

	drained(t, n.natsURL(), time.Minute)
	conn := n.ch(ctx)
	count := func(q string) uint64 {
		t.Helper()
		var v uint64
		if err := conn.QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	if got := count("SELECT count() FROM chatnight.posts FINAL WHERE community = 'hcldr'"); got != 4 {
		t.Errorf("hcldr posts: %d, want the 4 good ones", got)
	}
	if got := count("SELECT count() FROM chatnight.posts FINAL WHERE community = 'hcldr' AND id = 'x:4'"); got != 1 {
		t.Errorf("the id sent twice with different content has %d rows, want 1", got)
	}
	t.Logf("per-minute posts for hcldr: %d (4 distinct posts)", count("SELECT toUInt64(sum(posts)) FROM chatnight.minute_activity WHERE community = 'hcldr'"))
	var text string
	if err := conn.QueryRow(ctx, "SELECT text FROM chatnight.posts FINAL WHERE id = 'x:2'").Scan(&text); err != nil || !strings.Contains(text, "<script>") {
		t.Errorf("HTML text stored as %q (%v); it is stored as sent and escaped by the viewer", text, err)
	}
	var tags []string
	if err := conn.QueryRow(ctx, "SELECT hashtags FROM chatnight.posts FINAL WHERE id = 'x:3'").Scan(&tags); err != nil {
		t.Errorf("hashtags: %v", err)
	} else if strings.Join(tags, ",") != "hcldr,café" { // NFKC: full width folded, accents composed
		t.Errorf("hashtags folded to %q", tags)
	}
	if got := count("SELECT count() FROM chatnight.posts FINAL WHERE community = 'hitsm'"); got != 2 {
		t.Errorf("imported posts: %d, want the 2 good tweets", got)
	}

	reasons := deadLetters(t, js, bus.DeadLetterSubject("process"))
	if len(reasons) != wantBad {
		t.Errorf("%d dead letters from the processor, want %d: %q", len(reasons), wantBad, reasons)
	}
	for _, want := range []string{"decode post", "not valid UTF-8", "NUL", "text of 1048576 bytes", "exceeded max depth",
		"5000 mentions", "before 1970", "in the future", "community"} {
		found := false
		for _, r := range reasons {
			found = found || strings.Contains(r, want)
		}
		if !found {
			t.Errorf("no dead letter says %q: %q", want, reasons)
		}
	}
	imported := deadLetters(t, js, bus.DeadLetterSubject("ingest.import"))
	if len(imported) != 3 {
		t.Errorf("%d dead letters from the importer, want 3: %q", len(imported), imported)
	}
	if got := metricAt(t, n.httpAddr, `chatnight_processor_dead_letters_total{stage="process"}`); got != float64(wantBad) {
		t.Errorf(`chatnight_processor_dead_letters_total{stage="process"} = %v, want %d`, got, wantBad)
	}

	// Still running: one more good post lands.
	if _, err := js.Publish(ctx, bus.PostsSubject("hcldr", post.SourceX), good("5", "after the storm")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the post after the hostile ones", func() error {
		if got := count("SELECT count() FROM chatnight.posts FINAL WHERE community = 'hcldr'"); got != 5 {
			return fmt.Errorf("%d posts", got)
		}
		return nil
	})
	for _, r := range reasons {
		if len(r) > 400 {
			t.Errorf("a reason is %d bytes: hostile values must not flood logs and headers", len(r))
		}
	}
	n.stop()
}
