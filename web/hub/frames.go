package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/pipeline/sessions"
	"github.com/chatnight/chatnight/web/readmodel"
)

// Message types the server sends; every message is one JSON object in a text frame.
const (
	TypeHello    = "hello"    // first message of a connection
	TypeBackfill = "backfill" // posts of the session shown first, in chunks
	TypeLive     = "live"     // the events of one LIVE-stream message
	// TypeOptOuts says the opt-out list changed: a page drops what it shows and reads it
	// again from the API, where it comes redacted. It names nobody.
	TypeOptOuts = "optouts"
)

// Hello opens a connection. Seq is the resume point: every live message that follows
// has a larger sequence. Resumed says the client's `since` was honoured, so no
// backfill follows; otherwise Posts backfill posts follow in messages of type backfill.
type Hello struct {
	Type       string             `json:"type"`
	Community  string             `json:"community"`
	Seq        uint64             `json:"seq"`
	Resumed    bool               `json:"resumed"`
	Session    *readmodel.Session `json:"session"`
	Current    bool               `json:"current"`
	Posts      int                `json:"posts"`
	ServerTime time.Time          `json:"server_time"`
}

// Backfill carries posts of the session in time order. Last is set on the final chunk
// (also when there are no posts at all).
type Backfill struct {
	Type      string           `json:"type"`
	Seq       uint64           `json:"seq"`
	SessionID string           `json:"session_id"`
	Posts     []readmodel.Post `json:"posts"`
	Last      bool             `json:"last"`
}

// Live carries the events of one LIVE-stream message with its stream sequence.
type Live struct {
	Type   string       `json:"type"`
	Seq    uint64       `json:"seq"`
	Events []live.Event `json:"events"`
}

// liveFrame is the live message of a LIVE-stream message: each post's session id
// resolved by Options.Resolve (a cell to its detected session), then redacted by
// Options.Redact. ctx bounds the resolving.
func (h *Hub) liveFrame(ctx context.Context, community string, seq uint64, body []byte) ([]byte, error) {
	if h.opts.Redact == nil && h.opts.Resolve == nil && h.opts.People == nil {
		return liveFrame(seq, body)
	}
	events, err := live.Decode(body)
	if err != nil {
		return nil, err
	}
	changed := false
	if h.opts.Resolve != nil {
		changed = h.resolve(ctx, community, events)
	}
	if h.opts.People != nil {
		changed = h.people(ctx, community, events) || changed
	}
	if h.opts.Redact != nil {
		events, changed = h.opts.Redact(events), true
	}
	if changed {
		if body, err = live.Encode(events); err != nil {
			return nil, err
		}
	}
	return liveFrame(seq, body)
}

// resolve replaces the session id of each post of events by the session it belongs
// to, asking Options.Resolve once per distinct id; it reports whether any changed.
// Only cell ids can change (sessions.IsCellID): scheduled ids are sessions themselves.
func (h *Hub) resolve(ctx context.Context, community string, events []live.Event) bool {
	changed := false
	var seen map[string]string
	for i := range events {
		p := events[i].Post
		if p == nil || !sessions.IsCellID(p.SessionID) {
			continue
		}
		id, ok := seen[p.SessionID]
		if !ok {
			id = h.opts.Resolve(ctx, community, p.SessionID)
			if seen == nil {
				seen = map[string]string{}
			}
			seen[p.SessionID] = id
		}
		if id != "" && id != p.SessionID {
			// Events may share posts with the decoder's other events: copy before writing.
			cp := *p
			cp.SessionID = id
			events[i].Post = &cp
			changed = true
		}
	}
	return changed
}

// people sets the person of each post's author, asking Options.People once for the
// message; it reports whether any post changed.
func (h *Hub) people(ctx context.Context, community string, events []live.Event) bool {
	var ids []string
	for _, e := range events {
		if e.Post != nil && e.Post.AuthorID != "" {
			ids = append(ids, e.Post.AuthorID)
		}
	}
	if len(ids) == 0 {
		return false
	}
	persons := h.opts.People(ctx, community, ids)
	changed := false
	for i := range events {
		p := events[i].Post
		if p == nil || persons[p.AuthorID] == nil {
			continue
		}
		cp := *p // events may share posts with the decoder's other events
		cp.Person = persons[p.AuthorID]
		events[i].Post = &cp
		changed = true
	}
	return changed
}

// liveFrame turns the JSON Lines body of a LIVE message into a live message. The
// events are checked by decoding them, once per message rather than per client.
func liveFrame(seq uint64, body []byte) ([]byte, error) {
	if _, err := live.Decode(body); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(body) + 48)
	buf.WriteString(`{"type":"live","seq":`)
	buf.WriteString(strconv.FormatUint(seq, 10))
	buf.WriteString(`,"events":[`)
	first := true
	for line := range bytes.Lines(body) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.Write(line)
	}
	buf.WriteString("]}")
	if !json.Valid(buf.Bytes()) {
		return nil, fmt.Errorf("live message %d is not one JSON object per line", seq)
	}
	return buf.Bytes(), nil
}

// SeqOf reads the sequence of a live message without decoding it whole.
func SeqOf(msg []byte) (uint64, bool) {
	const prefix = `{"type":"live","seq":`
	if !bytes.HasPrefix(msg, []byte(prefix)) {
		return 0, false
	}
	rest := msg[len(prefix):]
	end := bytes.IndexByte(rest, ',')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	return n, err == nil
}
