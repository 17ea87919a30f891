package derive

import (
	"context"

	"fmt"
	"github.com/ClickHouse/clickhouse-go/v2"
	"strings"
	"testing"

	"github.com/chatnight/chatnight/ingest/xapi"
	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/pipeline/threads"
)

// storedBios are parts of the fixture authors' bios (X v2 includes, X v1 user, Mastodon
// note, Bluesky profile) that no stored column may hold once segments are derived.
var storedBios = []string{
	"Opinions mine",               // x:2001, X v2 includes.users description
	"Pediatrician and researcher", // x:2004, X v1 user.description
	"quillbright.example",         // its description's link entity
	"FHIR</span></a> nerd",        // mastodon:colin@hc.example, account.note (HTML)
	"Health IT consultant",        // the same note
	"living with MS since 2015",   // Bluesky profile description
}

// TestNoStoredColumnHoldsABio writes one post per network whose author has a bio,
// raw payloads included, and searches every String column of every table for the
// bios: only the segments and their reasons are kept.
func TestNoStoredColumnHoldsABio(t *testing.T) {
	conn := clickHouse(t)
	ctx := context.Background()
	posts := bioPosts(t)
	v1, err := xapi.ParseV1(readTestdata(t, "x_v1.json"), post.SourceX)
	if err != nil {
		t.Fatal(err)
	}
	posts = append(posts, v1...)
	for _, p := range posts {
		p.Community = "biostored" // apart from the recorded night's communities
		p.Normalize()
	}
	for _, p := range posts {
		if p.Author.Bio == "" {
			t.Fatalf("fixture %s has no bio", p.ID)
		}
	}
	d := New(community.Defaults(), threads.NewMemory(), clock())
	b, err := d.Derive(ctx, posts)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.NewWriter(conn, nil).Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	var segs uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM chatnight.account_segments`).Scan(&segs); err != nil {
		t.Fatal(err)
	}
	if segs != 4 {
		t.Fatalf("%d accounts with segments, want 4 (the bios were read before being dropped)", segs)
	}
	var cols []struct {
		Table  string `ch:"table"`
		Column string `ch:"name"`
	}
	if err := conn.Select(ctx, &cols, `
SELECT c.table AS table, c.name AS name
FROM system.columns AS c
INNER JOIN system.tables AS t ON t.database = c.database AND t.name = c.table
WHERE c.database = 'chatnight' AND t.engine NOT IN ('View', 'MaterializedView')
  AND (c.type LIKE '%String%')
ORDER BY table, name`); err != nil {
		t.Fatal(err)
	}
	if len(cols) < 20 {
		t.Fatalf("only %d string columns found: %v", len(cols), cols)
	}
	var raw uint64
	if err := conn.QueryRow(ctx, `SELECT countIf(raw != '') FROM chatnight.posts`).Scan(&raw); err != nil || raw != 4 {
		t.Fatalf("posts with a raw payload: %d (%v), want 4", raw, err)
	}
	for _, c := range cols {
		for _, bio := range storedBios {
			// Table and column names come from system.columns; the bio is a parameter.
			q := fmt.Sprintf("SELECT count() FROM chatnight.`%s` WHERE position(toString(`%s`), {bio:String}) > 0", c.Table, c.Column)
			var n uint64
			if err := conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"bio": storage.StringParam(bio)})), q).Scan(&n); err != nil {
				t.Fatalf("%s.%s: %v", c.Table, c.Column, err)
			}
			if n > 0 {
				t.Errorf("%s.%s holds the bio %q in %d rows", c.Table, c.Column, bio, n)
			}
		}
	}
	// The payloads are still what their parsers read: each post derives again the same.
	for _, r := range b.Posts {
		if strings.Contains(r.Raw, `"note"`) || strings.Contains(r.Raw, `"description"`) {
			t.Errorf("%s raw keeps a bio key: %s", r.ID, r.Raw)
		}
	}
}
