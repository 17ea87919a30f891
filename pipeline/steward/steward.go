// Package steward holds what ingestors report about the collection itself, besides
// posts: completeness events (what a source may have missed, and why) and deletions
// (posts that no longer exist at their source). Ingestors publish them on
// steward.completeness.<source> and steward.deletions.<source>; a processor writes
// them to ClickHouse. Data still flows one way.
package steward

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/bus"
)

// Kinds of completeness events.
const (
	KindReconnect      = "reconnect"       // a connection dropped; no data from From to To
	KindOutage         = "outage"          // the source answered errors from From to To
	KindRateLimit      = "rate_limit"      // waited for a rate limit from From to To
	KindDeadLetter     = "dead_letter"     // records that could not be used (Count), parked
	KindReplay         = "replay"          // a cursor rewound: From to To read again (duplicates dropped)
	KindInstancePolled = "instance_polled" // a Mastodon instance answered a poll
	KindInstanceError  = "instance_error"  // a Mastodon instance answered an error
	KindPageCap        = "page_cap"        // an X search stopped paging at a cap
	KindTokenExpired   = "token_expired"   // an X next_token expired before the last page
	KindInvalidRecords = "invalid_records" // an archive file had invalid records (Count)
)

// Gaps are the kinds that mean no data was collected between From and To: they are the
// missing windows of a session. The other kinds are counted, not windows: a rate-limit
// wait or an instance error delays a poll that then resumes from its cursor, and a
// replay reads again.
var Gaps = map[string]bool{
	KindReconnect: true, KindOutage: true, KindPageCap: true, KindTokenExpired: true,
}

// Event is one completeness event. Community "" means every community the source serves.
type Event struct {
	Source    string    `json:"source"`
	Community string    `json:"community,omitempty"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Kind      string    `json:"kind"`
	Detail    string    `json:"detail,omitempty"`
	Count     uint64    `json:"count,omitempty"`
}

// ID is the event's stable id: the same event published twice is stored once.
func (e *Event) ID() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%s\x00%s\x00%d", e.Source, e.Community, e.From.UnixMilli(), e.To.UnixMilli(), e.Kind, e.Detail, e.Count)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Validate refuses an event a processor cannot store sensibly.
func (e *Event) Validate() error {
	switch {
	case e.Source == "" || e.Kind == "":
		return errors.New("completeness event without source or kind")
	case e.From.IsZero() || e.To.Before(e.From):
		return fmt.Errorf("completeness event %s/%s: window %s to %s is not a window", e.Source, e.Kind, e.From, e.To)
	case len(e.Detail) > 2048:
		return fmt.Errorf("completeness event %s/%s: detail over 2048 bytes", e.Source, e.Kind)
	}
	return nil
}

// Deletion says a post no longer exists at its source.
type Deletion struct {
	PostID string    `json:"post_id"` // network-qualified, as post.Post.ID
	Source string    `json:"source"`
	Reason string    `json:"reason"` // "jetstream delete", "mastodon delete event", "mastodon 404", "x 404", "x compliance file"
	At     time.Time `json:"at"`     // when the source said so
}

// MsgID is the JetStream de-duplication id of a deletion.
func (d *Deletion) MsgID() string { return "delete|" + d.PostID }

// Validate refuses a deletion without a network-qualified post id.
func (d *Deletion) Validate() error {
	if d.PostID == "" || !bytes.ContainsRune([]byte(d.PostID), ':') || len(d.PostID) > 2048 {
		return fmt.Errorf("deletion of %q: not a network-qualified post id", d.PostID)
	}
	if d.At.IsZero() {
		return fmt.Errorf("deletion of %q: no time", d.PostID)
	}
	return nil
}

// Encode writes v (events or deletions) as JSON Lines.
func Encode[T any](items ...T) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range items {
		if err := enc.Encode(&items[i]); err != nil {
			return nil, fmt.Errorf("encode steward message: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// Decode reads the JSON Lines of one message; bad lines are returned as errors and
// never hide the good ones.
func Decode[T any](body []byte, validate func(*T) error) (good []T, bad []error) {
	for i, line := range bytes.Split(body, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			bad = append(bad, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		if err := validate(&v); err != nil {
			bad = append(bad, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		good = append(good, v)
	}
	return good, bad
}

// CompletenessMsg is the NATS message of a completeness event, with its stable id.
func CompletenessMsg(ev Event) (*nats.Msg, error) {
	body, err := Encode(ev)
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(bus.CompletenessSubject(ev.Source))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, "completeness|"+ev.ID())
	return msg, nil
}

// DeletionMsg is the NATS message of a deletion, with its stable id.
func DeletionMsg(d Deletion) (*nats.Msg, error) {
	body, err := Encode(d)
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(bus.DeletionsSubject(d.Source))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, d.MsgID())
	return msg, nil
}
