package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gorilla/websocket"

	"github.com/chatnight/chatnight/ingest/simulator"
	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// A simulated #HCLDR night, Tuesday 24 November 2026 20:30 in New York.
const (
	e2eSeed      = 42
	e2ePosts     = 600
	e2eStart     = "2026-11-25T01:30:00Z"
	e2eSessionID = "hcldr-20261125T013000Z"
)

func e2eNight(t *testing.T) []*post.Post {
	cm, _ := community.Defaults().Lookup("hcldr")
	start, _ := time.Parse(time.RFC3339, e2eStart)
	return simulator.Generate(simulator.Night{Community: cm, Seed: e2eSeed, Posts: e2ePosts, Start: start})
}

// wsFrame is the part of the viewer's websocket messages this test reads.
type wsFrame struct {
	Type  string `json:"type"`
	Seq   uint64 `json:"seq"`
	Posts []struct {
		ID string `json:"id"`
	} `json:"posts"`
	Events []struct {
		Type string `json:"type"`
		Post *struct {
			ID        string `json:"id"`
			SessionID string `json:"session_id"`
		} `json:"post"`
	} `json:"events"`
}

func dialViewer(t *testing.T, n *node, query string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Origin": {"http://" + n.httpAddr}}
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+n.httpAddr+"/ws?"+query, h)
	if err != nil {
		t.Fatalf("dial viewer websocket: %v (%v)", err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// readPosts reads frames until want distinct post ids were seen (backfill or live).
func readPosts(t *testing.T, ws *websocket.Conn, want int, timeout time.Duration) (ids map[string]int, live int) {
	t.Helper()
	ids = map[string]int{}
	deadline := time.Now().Add(timeout)
	for len(ids) < want {
		ws.SetReadDeadline(deadline)
		var f wsFrame
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("websocket after %d of %d posts: %v", len(ids), want, err)
		}
		if !bytes.Contains(data, []byte(`"type":"hello"`)) {
			if err := json.Unmarshal(data, &f); err != nil {
				t.Fatalf("websocket frame %.200s: %v", data, err)
			}
		}
		for _, p := range f.Posts {
			ids[p.ID]++
		}
		for _, e := range f.Events {
			if e.Type == "post" && e.Post != nil {
				ids[e.Post.ID]++
				live++
			}
		}
	}
	return ids, live
}

// TestEndToEnd drives simulator -> NATS -> processor -> ClickHouse -> websocket through
// a real `chatnight run`, then restarts it on the same data.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	n := newNode(t, t.TempDir())
	n.start("run", "--batch-wait", "50ms")

	ws := dialViewer(t, n, "community=hcldr")
	var hello struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
	}
	if err := ws.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("first frame: %+v, %v", hello, err)
	}

	out := chatnight(t, "simulate", "--community", "hcldr", "--seed", fmt.Sprint(e2eSeed), "--posts", fmt.Sprint(e2ePosts),
		"--start", e2eStart, "--nats-url", n.natsURL())
	if !strings.Contains(out, fmt.Sprintf("%d posts", e2ePosts)) {
		t.Fatalf("simulate said: %s", out)
	}

	// Every post reaches the viewer live, once.
	ids, _ := readPosts(t, ws, e2ePosts, 60*time.Second)
	want := e2eNight(t)
	for _, p := range want {
		if ids[p.ID] != 1 {
			t.Fatalf("post %s reached the viewer %d times", p.ID, ids[p.ID])
		}
	}

	conn := n.ch(ctx)
	checkStoredNight(t, conn, want)

	// The same posts published again, in other messages: JetStream stores them (other
	// message ids), the processor writes them again, and every answer stays the same.
	again := chatnight(t, "simulate", "--community", "hcldr", "--seed", fmt.Sprint(e2eSeed), "--posts", fmt.Sprint(e2ePosts),
		"--start", e2eStart, "--nats-url", n.natsURL())
	if !strings.Contains(again, "0 new") {
		t.Fatalf("the same batches were stored again: %s", again)
	}
	republishSingly(t, n, want[:100])
	waitFor(t, 30*time.Second, "the processor to write the republished posts", func() error {
		if got := metricAt(t, n.httpAddr, "chatnight_processor_posts_total"); got < e2ePosts+100 {
			return fmt.Errorf("processor wrote %v posts", got)
		}
		return nil
	})
	checkStoredNight(t, conn, want)

	// Clean shutdown, then a restart on the same data dir keeps everything.
	n.stop()
	n2 := newNode(t, n.dataDir)
	n2.start("run", "--batch-wait", "50ms")
	checkStoredNight(t, n2.ch(ctx), want)
	ws2 := dialViewer(t, n2, "community=hcldr&session="+e2eSessionID)
	ids2, live2 := readPosts(t, ws2, e2ePosts, 30*time.Second)
	if len(ids2) != e2ePosts || live2 != 0 {
		t.Fatalf("after restart the backfill showed %d posts (%d live)", len(ids2), live2)
	}
}

// metricAt reads one unlabelled sample from the /metrics at addr.
func metricAt(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not in /metrics", name)
	return 0
}

// republishSingly publishes posts one per message, as a live ingestor would.
func republishSingly(t *testing.T, n *node, posts []*post.Post) {
	t.Helper()
	ctx := context.Background()
	_, js, err := bus.Connect(ctx, n.natsURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js)
	for _, p := range posts {
		if err := pub.PublishPosts(ctx, p.Community, p.Source, p.MsgID(), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// wantStored is the row a post should be stored as, from source in session, in the
// columns the tests select (the others stay zero on both sides); IsHost is left for
// the caller.
func wantStored(w *post.Post, source, session string) storage.PostRow {
	exp := storage.PostRow{
		ID: w.ID, Source: source, Kind: string(w.Kind), AuthorID: w.Author.ID, AuthorHandle: w.Author.Handle,
		AuthorName: w.Author.Name, AuthorFollowers: w.Author.Followers, CreatedAt: w.CreatedAt, Text: w.Text, Lang: w.Lang,
		URL: w.URL, ReplyToID: w.ReplyToID, ReplyToAuthorID: w.ReplyToAuthorID, QuoteOfID: w.QuoteOfID,
		RepostOfID: w.RepostOfID, RepostOfAuthorID: w.RepostOfAuthorID, Hashtags: orEmpty(w.Hashtags), URLs: orEmpty(w.URLs),
		SessionID: session,
	}
	for _, m := range w.Mentions {
		exp.MentionIDs = append(exp.MentionIDs, m.ID)
	}
	exp.MentionIDs = orEmpty(exp.MentionIDs)
	return exp
}

const selectNight = `SELECT id, source, kind, author_id, author_handle, author_name, author_followers, created_at,
	text, lang, url, reply_to_id, reply_to_author_id, quote_of_id, repost_of_id, repost_of_author_id,
	mention_ids, hashtags, urls, session_id, is_host
FROM chatnight.posts FINAL WHERE community = 'hcldr' ORDER BY created_at, id`

// checkStoredNight compares what ClickHouse holds with the simulated night, field by
// field, and checks the derived tables' counts against the night itself.
func checkStoredNight(t *testing.T, conn driver.Conn, want []*post.Post) {
	t.Helper()
	ctx := context.Background()
	var got []storage.PostRow
	waitFor(t, 30*time.Second, "all posts in ClickHouse", func() error {
		got = nil
		if err := conn.Select(ctx, &got, selectNight); err != nil {
			return err
		}
		if len(got) != len(want) {
			return fmt.Errorf("%d posts stored, want %d", len(got), len(want))
		}
		return nil
	})
	byID := map[string]storage.PostRow{}
	for _, g := range got {
		byID[g.ID] = g
	}
	cm, _ := community.Defaults().Lookup("hcldr")
	var questions, answers, mentions int
	authors := map[string]bool{}
	for _, w := range want {
		g, ok := byID[w.ID]
		if !ok {
			t.Fatalf("post %s missing", w.ID)
		}
		exp := wantStored(w, string(w.Source), e2eSessionID)
		exp.Hashtags = w.Hashtags
		exp.IsHost = cm.IsHost("sim", w.Author.Handle)
		g.CreatedAt = g.CreatedAt.UTC()
		if !reflect.DeepEqual(g, exp) {
			t.Fatalf("post %s stored as\n%+v\nwant\n%+v", w.ID, g, exp)
		}
		if strings.HasPrefix(w.Text, "Q") {
			questions++
		}
		if strings.HasPrefix(w.Text, "A") {
			answers++
		}
		mentions += len(w.Mentions)
		authors[w.Author.ID] = true
	}

	t.Logf("%d stored posts match the night field by field (%d questions, %d answers, %d mentions, %d authors)",
		len(got), questions, answers, mentions, len(authors))
	count := func(query string, args ...any) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if got := count("SELECT count() FROM chatnight.qa WHERE session_id = ? AND kind = 'question'", e2eSessionID); got != uint64(questions) {
		t.Errorf("qa holds %d questions, the night asked %d", got, questions)
	}
	if got := count("SELECT count() FROM chatnight.qa WHERE session_id = ? AND kind = 'answer' AND question_post_id = ''", e2eSessionID); got != 0 {
		t.Errorf("%d answers are not linked to a question", got)
	}
	if got := count("SELECT uniqExact(post_id) FROM chatnight.qa WHERE session_id = ? AND kind = 'answer'", e2eSessionID); got < uint64(answers) {
		t.Errorf("qa holds %d answering posts, the night has at least %d", got, answers)
	}
	if got := count("SELECT toUInt64(sum(posts)) FROM chatnight.minute_activity WHERE community = 'hcldr'"); got != uint64(len(want)) {
		t.Errorf("minute_activity counts %d posts, want %d", got, len(want))
	}
	if got := count("SELECT count() FROM chatnight.participants WHERE community = 'hcldr'"); got != uint64(len(authors)) {
		t.Errorf("participants has %d rows, the night had %d authors", got, len(authors))
	}
	if got := count("SELECT toUInt64(sum(weight)) FROM chatnight.edges WHERE community = 'hcldr' AND kind = 'mention'"); got == 0 || got > uint64(mentions) {
		t.Errorf("mention edges weigh %d, the night has %d mentions", got, mentions)
	}
	if got := count("SELECT count() FROM chatnight.sessions FINAL WHERE id = ? AND kind = 'scheduled'", e2eSessionID); got != 1 {
		t.Errorf("session %s stored %d times", e2eSessionID, got)
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
