package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/post"
)

// Publisher publishes posts asynchronously with a stable Nats-Msg-Id, and Flush waits
// until JetStream has acknowledged everything, so callers advance their cursors only
// after their posts are stored.
type Publisher struct {
	js jetstream.JetStream

	// AckWait bounds the wait for each acknowledgement in Flush; default DefaultAckWait. A
	// JetStream that stopped storing (its disk full, JetStream disabled) answers nothing:
	// without a bound, publishers would wait forever.
	AckWait time.Duration

	mu      sync.Mutex
	pending []jetstream.PubAckFuture
	stored  int // messages acknowledged as new
	dupes   int // messages JetStream dropped as duplicates
}

// NewPublisher publishes through js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// maxPending bounds the unacknowledged messages, and so memory, of one publisher.
const maxPending = 4096

// DefaultAckWait is how long Flush waits for one acknowledgement.
const DefaultAckWait = 10 * time.Second

// PublishPosts sends one message carrying posts on posts.<community>.<source>, in the
// compact encoding (see PostsMsg). msgID must be stable for the same content: a post's
// own MsgID for single posts, a deterministic batch id for bulk messages.
func (p *Publisher) PublishPosts(ctx context.Context, community string, src post.Source, msgID string, posts ...*post.Post) error {
	return p.PublishMsg(ctx, PostsMsg(community, src, msgID, posts...))
}

// PostsMsg is the message carrying posts on posts.<community>.<source>: compact
// encoding (post.EncodingCompact, named by HeaderEncoding), which the processor
// decodes several times faster than JSON, and the number of posts when there are
// several.
func PostsMsg(community string, src post.Source, msgID string, posts ...*post.Post) *nats.Msg {
	msg := nats.NewMsg(PostsSubject(community, src))
	msg.Data = post.EncodeCompact(nil, posts...)
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	msg.Header.Set(HeaderEncoding, post.EncodingCompact)
	if len(posts) > 1 {
		msg.Header.Set(HeaderBatchPosts, strconv.Itoa(len(posts)))
	}
	return msg
}

// DecodePosts decodes a posts message body in the encoding its header names.
func DecodePosts(h nats.Header, body []byte) ([]*post.Post, []post.BadLine) {
	return post.DecodeAs(h.Get(HeaderEncoding), body)
}

// PublishMsg sends a prepared message asynchronously.
func (p *Publisher) PublishMsg(ctx context.Context, msg *nats.Msg) error {
	p.mu.Lock()
	full := len(p.pending) >= maxPending
	p.mu.Unlock()
	if full {
		if err := p.Flush(ctx); err != nil {
			return err
		}
	}
	f, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	p.mu.Lock()
	p.pending = append(p.pending, f)
	p.mu.Unlock()
	return nil
}

// DeadLetter parks data that stage could not use on deadletter.<stage>, with the
// reason and where it came from (origin: source and offset, file and line, stream
// sequence) in the headers, so it can be found, fixed and replayed. Like PublishMsg it
// is asynchronous: Flush before acknowledging what the dead letter replaces.
func (p *Publisher) DeadLetter(ctx context.Context, stage, origin string, data []byte, reason error) error {
	msg := nats.NewMsg(DeadLetterSubject(stage))
	msg.Data = data
	msg.Header.Set(HeaderError, reason.Error())
	msg.Header.Set(HeaderOrigin, origin)
	return p.PublishMsg(ctx, msg)
}

// Flush waits for every pending acknowledgement and returns the first failure.
func (p *Publisher) Flush(ctx context.Context) error {
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	wait := p.AckWait
	if wait <= 0 {
		wait = DefaultAckWait
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var errs []error
	for _, f := range pending {
		timer.Reset(wait)
		select {
		case ack := <-f.Ok():
			p.mu.Lock()
			if ack.Duplicate {
				p.dupes++
			} else {
				p.stored++
			}
			p.mu.Unlock()
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("publish to %s: %w", f.Msg().Subject, err))
		case <-ctx.Done():
			return fmt.Errorf("waiting for JetStream acks: %w", ctx.Err())
		case <-timer.C:
			// The rest are given up too: they are published again with the same ids, and
			// JetStream drops those it did store.
			return errors.Join(append(errs, fmt.Errorf("publish to %s: %w", f.Msg().Subject, ErrNoAck))...)
		}
	}
	return errors.Join(errs...)
}

// ErrNoAck says JetStream acknowledged nothing within the publisher's AckWait.
var ErrNoAck = errors.New("JetStream did not acknowledge in time: is its disk full or JetStream disabled? /readyz says which; " +
	"the posts are sent again (deduplicated by message id) once it stores again")

// Counts returns how many messages were stored as new and how many were duplicates.
func (p *Publisher) Counts() (stored, duplicates int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stored, p.dupes
}
