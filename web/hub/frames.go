package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/chatnight/chatnight/live"
	"github.com/chatnight/chatnight/web/store"
)

// Message types the server sends; every message is one JSON object in a text frame.
const (
	TypeHello    = "hello"    // first message of a connection
	TypeBackfill = "backfill" // posts of the session shown first, in chunks
	TypeLive     = "live"     // the events of one LIVE-stream message
)

// Hello opens a connection. Seq is the resume point: every live message that follows
// has a larger sequence. Resumed says the client's `since` was honoured, so no
// backfill follows; otherwise Posts backfill posts follow in messages of type backfill.
type Hello struct {
	Type       string         `json:"type"`
	Community  string         `json:"community"`
	Seq        uint64         `json:"seq"`
	Resumed    bool           `json:"resumed"`
	Session    *store.Session `json:"session"`
	Current    bool           `json:"current"`
	Posts      int            `json:"posts"`
	ServerTime time.Time      `json:"server_time"`
}

// Backfill carries posts of the session in time order. Last is set on the final chunk
// (also when there are no posts at all).
type Backfill struct {
	Type      string       `json:"type"`
	Seq       uint64       `json:"seq"`
	SessionID string       `json:"session_id"`
	Posts     []store.Post `json:"posts"`
	Last      bool         `json:"last"`
}

// Live carries the events of one LIVE-stream message with its stream sequence.
type Live struct {
	Type   string       `json:"type"`
	Seq    uint64       `json:"seq"`
	Events []live.Event `json:"events"`
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
