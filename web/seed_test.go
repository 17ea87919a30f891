package web_test

import (
	"context"
	"fmt"
	"github.com/chatnight/chatnight/pipeline/bursts"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/pipeline/bus"
	"github.com/chatnight/chatnight/pipeline/bus/bustest"
	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// chat builds the rows of a tweetchat the way a processor would derive them.
type chat struct {
	community string
	session   string
	start     time.Time
	version   uint64
	batch     storage.Batch
	// gap, when set, makes the chat off-schedule activity: each post carries the id of
	// its gap-long cell, and each cell gets its sessions row, as pipeline/sessions does.
	gap   time.Duration
	cells map[string]bool // cells with a row written
}

func newChat(community, session string, start time.Time) *chat {
	return &chat{community: community, session: session, start: start.UTC(), version: uint64(time.Now().UnixNano())}
}

// sessionRow adds the session row itself.
func (c *chat) sessionRow(kind string, length time.Duration) *chat {
	c.batch.Sessions = append(c.batch.Sessions, storage.SessionRow{
		ID: c.session, Community: c.community, Start: c.start, End: c.start.Add(length), Kind: kind,
		Hosts: []string{"sim:host"}, Version: c.version,
	})
	return c
}

// offSchedule makes c's posts carry cells of length gap (see chat.gap).
func (c *chat) offSchedule(gap time.Duration) *chat {
	c.gap, c.cells = gap, map[string]bool{}
	return c
}

// sessionAt is the session_id of a post at t, adding the row of a new cell.
func (c *chat) sessionAt(t time.Time) string {
	if c.gap == 0 {
		return c.session
	}
	start := sessions.CellStart(t, c.gap)
	id := sessions.CellID(c.community, start)
	if !c.cells[id] {
		c.cells[id] = true
		c.batch.Sessions = append(c.batch.Sessions, storage.SessionRow{
			ID: id, Community: c.community, Start: start, End: start.Add(c.gap), Kind: sessions.KindCell,
			Hosts: []string{}, Version: c.version,
		})
	}
	return id
}

type postOpt func(*storage.PostRow)

func replyTo(id, author string) postOpt {
	return func(p *storage.PostRow) { p.ReplyToID, p.ReplyToAuthorID, p.Kind = id, "sim:"+author, "reply" }
}

// fromX makes the post an X post: source x and an x.com status URL.
func fromX() postOpt {
	return func(p *storage.PostRow) {
		p.Source = "x"
		p.URL = "https://x.com/" + p.AuthorHandle + "/status/" + strings.TrimPrefix(p.ID, "x:")
	}
}

func mentions(handles ...string) postOpt {
	return func(p *storage.PostRow) {
		for _, h := range handles {
			p.MentionIDs = append(p.MentionIDs, "sim:"+h)
			p.MentionHandles = append(p.MentionHandles, h)
		}
	}
}

// post adds a post by author at minute offset at, with Q/A marks parsed from its text
// ("Q1 ...", "A1 ...") and its edges.
func (c *chat) post(id, author string, at time.Duration, text string, opts ...postOpt) *chat {
	p := storage.PostRow{
		ID: id, Community: c.community, Source: "sim", Kind: "original", AuthorID: "sim:" + author,
		AuthorHandle: author, AuthorName: strings.ToUpper(author[:1]) + author[1:], CreatedAt: c.start.Add(at),
		Text: text, URL: "https://example.org/" + id, Hashtags: []string{c.community}, URLs: []string{},
		MentionIDs: []string{}, MentionHandles: []string{}, SessionID: c.sessionAt(c.start.Add(at)), IsHost: author == "host",
		IngestedAt: time.Now().UTC(), Version: c.version,
	}
	for _, o := range opts {
		o(&p)
	}
	c.batch.Posts = append(c.batch.Posts, p)
	var kind string
	var n int
	if len(text) > 1 {
		fmt.Sscanf(text[1:], "%d", &n)
		switch text[0] {
		case 'Q':
			kind = "question"
		case 'A':
			kind = "answer"
		}
	}
	if kind != "" && n > 0 {
		c.batch.QAMarks = append(c.batch.QAMarks, storage.QAMarkRow{Community: c.community, SessionID: p.SessionID,
			Kind: kind, Number: uint16(n), PostID: id, AuthorID: p.AuthorID, CreatedAt: p.CreatedAt,
			ReplyToID: p.ReplyToID, Version: c.version})
	}
	edge := func(dst, kind string) {
		c.batch.Edges = append(c.batch.Edges, storage.EdgeRow{Community: c.community, SessionID: p.SessionID,
			Src: p.AuthorID, Dst: dst, Kind: kind, PostID: id, CreatedAt: p.CreatedAt, Version: c.version})
	}
	if p.ReplyToAuthorID != "" {
		edge(p.ReplyToAuthorID, "reply")
	}
	for _, m := range p.MentionIDs {
		edge(m, "mention")
	}
	return c
}

// write stores the rows, then empties the batch.
func (c *chat) write(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bursts.WriteAndPlace(ctx, storage.NewWriter(ch, nil), &c.batch); err != nil {
		t.Fatalf("seed: %v", err)
	}
	c.batch = storage.Batch{}
}

// commit writes the rows and then publishes them on live.<community>, as a processor
// does after each batch; it returns the message's stream sequence.
func (c *chat) commit(t testing.TB, env *bustest.Env) uint64 {
	t.Helper()
	return c.commitAs(t, env)
}

// commitAs is commit with the posts named in updates announced as `update` events (a
// post shown before, placed anew in its thread).
func (c *chat) commitAs(t testing.TB, env *bustest.Env, updates ...string) uint64 {
	t.Helper()
	var events []live.Event
	marks := map[string][]live.Mark{}
	for _, m := range c.batch.QAMarks {
		marks[m.PostID] = append(marks[m.PostID], live.Mark{Kind: m.Kind, Number: int(m.Number)})
	}
	for _, p := range c.batch.Posts {
		typ := live.TypePost
		if slices.Contains(updates, p.ID) {
			typ = live.TypeUpdate
		}
		events = append(events, live.Event{Type: typ, Community: c.community, Post: &live.Post{
			ID: p.ID, Source: p.Source, Kind: p.Kind, AuthorID: p.AuthorID, AuthorHandle: p.AuthorHandle,
			AuthorName: p.AuthorName, CreatedAt: p.CreatedAt, Text: p.Text, URL: p.URL, ReplyToID: p.ReplyToID,
			ReplyToAuthor: p.ReplyToAuthorID, RootID: p.RootID, Depth: int(p.Depth), Mentions: p.MentionIDs, Hashtags: p.Hashtags,
			SessionID: p.SessionID, IsHost: p.IsHost, Marks: marks[p.ID],
		}})
	}
	c.write(t)
	body, err := live.Encode(events)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := env.JS.Publish(ctx, bus.LiveSubject(c.community), body)
	if err != nil {
		t.Fatalf("publish live: %v", err)
	}
	return ack.Sequence
}
