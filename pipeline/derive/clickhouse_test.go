package derive

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bursts"
	"github.com/chatnight/chatnight/pipeline/post"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/storage/chdb/chdbtest"
	"github.com/chatnight/chatnight/pipeline/threads"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

// clickHouse returns a clickhouse-go connection to the embedded engine, migrated.
func clickHouse(t *testing.T) driver.Conn {
	t.Helper()
	return chdbtest.Start(t).Conn
}

// TestClickHouseViews replays the recorded night, shuffled, through the ClickHouse
// Lookup and Writer into the embedded engine, and checks that the views of migrations
// 0001 and 0002 show the golden state.
func TestClickHouseViews(t *testing.T) {
	conn := clickHouse(t)
	ctx := context.Background()
	cfg, posts := loadNight(t)
	d := New(cfg, threads.NewClickHouse(conn), time.Now)
	w := storage.NewWriter(conn, nil)
	store := func(batch []*post.Post) {
		t.Helper()
		b, err := d.Derive(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if err := bursts.WriteAndPlace(ctx, w, b); err != nil {
			t.Fatal(err)
		}
	}
	order := shuffled(posts, 2)
	for i := 0; i < len(order); i += 9 {
		store(order[i:min(i+9, len(order))])
	}
	store(order[:40]) // a redelivery changes nothing

	got := readState(t, conn)
	tb := newTables()
	replay(t, New(cfg, tb.mem, clock()), tb, posts, 1)
	want := tb.state(cfg)
	if diff := diffStates(want, got); diff != "(same items, different order)" {
		t.Errorf("the views differ from the in-memory tables:\n%s", diff)
	}

	// minute_activity and participants key on session_id: each post counted once.
	var minutePosts, participants uint64
	if err := conn.QueryRow(ctx, "SELECT sum(posts) FROM chatnight.minute_activity WHERE community IN "+nightCommunities).Scan(&minutePosts); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT sum(posts) FROM chatnight.participants WHERE community IN "+nightCommunities).Scan(&participants); err != nil {
		t.Fatal(err)
	}
	if minutePosts != uint64(len(posts)) || participants != uint64(len(posts)) {
		t.Errorf("minute_activity counts %d posts, participants %d; want %d", minutePosts, participants, len(posts))
	}
}

// TestClickHouseLookup checks the Lookup queries on their own.
func TestClickHouseLookup(t *testing.T) {
	conn := clickHouse(t)
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	row := func(id, parent string, version uint64) storage.PostRow {
		return storage.PostRow{ID: id, Community: "lookup", Kind: "reply", AuthorID: "a", CreatedAt: at, ReplyToID: parent,
			RootID: "r'oot", Depth: 3, MentionIDs: []string{"m"}, MentionHandles: []string{"h"}, Hashtags: []string{}, URLs: []string{},
			IsHost: true, IngestedAt: at, Version: version, Text: "it's \"quoted\"\n\ttabbed"}
	}
	w := storage.NewWriter(conn, nil)
	if err := w.Write(ctx, &storage.Batch{Posts: []storage.PostRow{row("p'1", "", 1), row("c1", "p'1", 1), row("c2", "p'1", 1), row("c1", "p'1", 2)}}); err != nil {
		t.Fatal(err)
	}
	lk := threads.NewClickHouse(conn)
	ps, err := lk.Posts(ctx, "lookup", []string{"p'1", "missing", "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("Posts = %+v, want p'1 and c1", ps)
	}
	for _, p := range ps {
		if p.ID == "c1" && p.Version != 2 {
			t.Errorf("c1 version %d, want the newest (2)", p.Version)
		}
		want := row(p.ID, p.ReplyToID, p.Version)
		if p.RootID != want.RootID || p.Depth != 3 || !p.IsHost || p.Text != want.Text || !p.CreatedAt.Equal(at) || len(p.MentionIDs) != 1 {
			t.Errorf("Posts returned %+v", p)
		}
	}
	kids, err := lk.Children(ctx, "lookup", []string{"p'1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 2 {
		t.Errorf("Children = %d rows, want 2", len(kids))
	}
	if kids, err := lk.Children(ctx, "other", []string{"p'1"}); err != nil || len(kids) != 0 {
		t.Errorf("Children in another community = %v, %v", kids, err)
	}
	many := make([]string, 1200) // more than one query's worth
	for i := range many {
		many[i] = fmt.Sprintf("id-%d", i)
	}
	many[1100] = "c2"
	if ps, err := lk.Posts(ctx, "lookup", many); err != nil || len(ps) != 1 {
		t.Errorf("Posts(1200 ids) = %d rows, %v; want c2", len(ps), err)
	}
}

// nightCommunities are the communities of the recorded night, as SQL.
const nightCommunities = "('hcldr', 'hitsm', 'healthequity')"

// readState reads the golden state from the views.
func readState(t *testing.T, conn driver.Conn) goldenState {
	t.Helper()
	ctx := context.Background()
	var st goldenState
	query := func(q string, scan func(rows driver.Rows) error) {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	query(`SELECT s.community, s.id, s.kind, s.start, s.end, s.hosts, d.cells
FROM chatnight.all_sessions AS s LEFT JOIN chatnight.detected_sessions AS d ON s.community = d.community AND s.id = d.id
WHERE s.community IN `+nightCommunities,
		func(rows driver.Rows) error {
			var s goldenSession
			var start, end time.Time
			if err := rows.Scan(&s.Community, &s.ID, &s.Kind, &start, &end, &s.Hosts, &s.Cells); err != nil {
				return err
			}
			s.Start, s.End = start.UTC().Format(goldenTime), end.UTC().Format(goldenTime)
			if len(s.Hosts) == 0 {
				s.Hosts = nil
			}
			if len(s.Cells) == 0 {
				s.Cells = nil
			}
			st.Sessions = append(st.Sessions, s)
			return nil
		})
	query(`SELECT community, id, session_id, root_id, depth, is_host, reply_to_author_id FROM chatnight.posts FINAL
WHERE community IN `+nightCommunities,
		func(rows driver.Rows) error {
			var p goldenPost
			if err := rows.Scan(&p.Community, &p.ID, &p.Session, &p.Root, &p.Depth, &p.Host, &p.ReplyTo); err != nil {
				return err
			}
			st.Posts = append(st.Posts, p)
			return nil
		})
	query(`SELECT community, root_id, session_id, size, max_depth, participants FROM chatnight.threads
WHERE size >= 2 AND community IN `+nightCommunities,
		func(rows driver.Rows) error {
			var th goldenThread
			var size, participants uint64
			if err := rows.Scan(&th.Community, &th.Root, &th.Session, &size, &th.MaxDepth, &participants); err != nil {
				return err
			}
			th.Size, th.Participants = int(size), int(participants)
			st.Threads = append(st.Threads, th)
			return nil
		})
	query(`SELECT community, session_id, kind, number, post_id, question_post_id FROM chatnight.qa_resolved
WHERE community IN `+nightCommunities,
		func(rows driver.Rows) error {
			var q goldenQA
			if err := rows.Scan(&q.Community, &q.Session, &q.Kind, &q.Number, &q.Post, &q.Question); err != nil {
				return err
			}
			st.QA = append(st.QA, q)
			return nil
		})
	query(`SELECT community, session_id, src, dst, kind, weight FROM chatnight.edges_resolved
WHERE community IN `+nightCommunities,
		func(rows driver.Rows) error {
			var e goldenEdge
			var w uint64
			if err := rows.Scan(&e.Community, &e.Session, &e.Src, &e.Dst, &e.Kind, &w); err != nil {
				return err
			}
			e.Weight = int(w)
			st.Edges = append(st.Edges, e)
			return nil
		})
	st.sort()
	return st
}
