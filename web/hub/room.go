package hub

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatnight/chatnight/pipeline/backoff"
	"github.com/chatnight/chatnight/pipeline/bus"
)

// frame is a live message ready to be written to any number of clients.
type frame struct {
	seq uint64
	pm  *websocket.PreparedMessage
}

// incoming is a message of the room's consumer, or a reset that says the consumer
// (re)started and the room knows every message after seq.
type incoming struct {
	seq   uint64
	body  []byte
	reset bool
}

type joinReq struct {
	c     *client
	after uint64
	reply chan joinResult
}

type joinResult struct {
	ok bool
	// knownFrom is the sequence after which the room holds every message; a client
	// behind it catches up from the stream first.
	knownFrom uint64
	ready     bool
}

// room fans out the live messages of one community. Its run goroutine owns the client
// set and the ring of recent messages; its consume goroutine reads live.<community>
// through one ordered JetStream consumer.
type room struct {
	id      string
	subject string
	hub     *Hub

	join  chan joinReq
	leave chan *client
	msgs  chan incoming
	done  chan struct{} // closed when run returns

	// Owned by run.
	clients   map[*client]struct{}
	ring      []frame // circular, ringLen entries from ringHead
	ringHead  int
	ringLen   int
	knownFrom uint64 // every message of the subject after this is in the ring or was before
	ready     bool
}

func newRoom(h *Hub, id string) *room {
	return &room{
		id:      id,
		subject: bus.LiveSubject(id),
		hub:     h,
		join:    make(chan joinReq),
		leave:   make(chan *client),
		msgs:    make(chan incoming, 64),
		done:    make(chan struct{}),
		clients: make(map[*client]struct{}),
		ring:    make([]frame, h.opts.Ring),
	}
}

func (r *room) run(ctx context.Context) {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			for c := range r.clients {
				r.drop(c, websocket.CloseGoingAway, "server shutting down", DropShutdown)
			}
			return
		case req := <-r.join:
			req.reply <- r.add(req.c, req.after)
		case c := <-r.leave:
			delete(r.clients, c)
		case m := <-r.msgs:
			r.handle(ctx, m)
		}
	}
}

// add joins c to the room if the ring can bring it from after to now.
func (r *room) add(c *client, after uint64) joinResult {
	if !r.ready || c == nil {
		return joinResult{ready: r.ready} // c == nil only asks whether the room is ready
	}
	if after < r.knownFrom {
		return joinResult{ready: true, knownFrom: r.knownFrom}
	}
	pending := 0
	r.eachRing(func(f frame) {
		if f.seq > after {
			pending++
		}
	})
	if pending > cap(c.send)-len(c.send) {
		// Too far behind for the queue: catch up from the stream first.
		return joinResult{ready: true, knownFrom: r.lastSeq()}
	}
	r.eachRing(func(f frame) {
		if f.seq > after {
			c.send <- f.pm
			after = f.seq
		}
	})
	c.after = max(after, c.after)
	r.clients[c] = struct{}{}
	return joinResult{ok: true, ready: true, knownFrom: r.knownFrom}
}

func (r *room) eachRing(fn func(frame)) {
	for i := 0; i < r.ringLen; i++ {
		fn(r.ring[(r.ringHead+i)%len(r.ring)])
	}
}

func (r *room) lastSeq() uint64 {
	if r.ringLen == 0 {
		return r.knownFrom
	}
	return r.ring[(r.ringHead+r.ringLen-1)%len(r.ring)].seq
}

func (r *room) handle(ctx context.Context, m incoming) {
	if m.reset {
		if !r.ready || m.seq != r.lastSeq() {
			// Started afresh: what came before seq is not in the ring.
			r.ringHead, r.ringLen, r.knownFrom = 0, 0, m.seq
		}
		r.ready = true
		return
	}
	if m.seq <= r.lastSeq() {
		return // redelivered after a consumer restart
	}
	data, err := r.hub.liveFrame(ctx, r.id, m.seq, m.body)
	if err != nil {
		r.hub.log.Warn("skipping undecodable live message", "community", r.id, "seq", m.seq, "err", err)
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		r.hub.log.Warn("skipping live message", "community", r.id, "seq", m.seq, "err", err)
		return
	}
	f := frame{seq: m.seq, pm: pm}
	if r.ringLen == len(r.ring) {
		r.knownFrom = r.ring[r.ringHead].seq
		r.ring[r.ringHead] = f
		r.ringHead = (r.ringHead + 1) % len(r.ring)
	} else {
		r.ring[(r.ringHead+r.ringLen)%len(r.ring)] = f
		r.ringLen++
	}
	for c := range r.clients {
		if c.after >= f.seq {
			continue
		}
		select {
		case c.send <- f.pm:
			c.after = f.seq
		default:
			r.drop(c, websocket.CloseTryAgainLater, "too slow: send queue full, reconnect to resume", DropSlow)
		}
	}
}

func (r *room) drop(c *client, code int, text, reason string) {
	delete(r.clients, c)
	c.kick(code, text, reason)
}

// consume feeds the room from an ordered consumer on live.<community>, restarting it
// with backoff until ctx ends.
func (r *room) consume(ctx context.Context) {
	var last uint64
	started := false
	bo := backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		before := last
		err := r.consumeOnce(ctx, &last, &started)
		if ctx.Err() != nil {
			return
		}
		if last != before {
			bo.Reset() // it delivered: this is a new outage, not the old one going on
		}
		wait := bo.Next()
		r.hub.log.Warn("live consumer stopped, restarting", "community", r.id, "after_seq", last, "err", err, "in", wait)
		if backoff.Sleep(ctx, wait) != nil {
			return
		}
	}
}

func (r *room) consumeOnce(ctx context.Context, last *uint64, started *bool) error {
	js := r.hub.js
	if !*started {
		stream, err := js.Stream(ctx, bus.LiveStream)
		if err != nil {
			return err
		}
		info, err := stream.Info(ctx)
		if err != nil {
			return err
		}
		*last, *started = info.State.LastSeq, true
	}
	cons, err := js.OrderedConsumer(ctx, bus.LiveStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{r.subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    *last + 1,
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer func() {
		stop()
		it.Stop()
	}()
	if !r.send(ctx, incoming{seq: *last, reset: true}) {
		return ctx.Err()
	}
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			r.hub.log.Warn("live message without metadata", "community", r.id, "err", err)
			continue
		}
		seq := meta.Sequence.Stream
		if !r.send(ctx, incoming{seq: seq, body: msg.Data()}) {
			return ctx.Err()
		}
		*last = seq
	}
}

func (r *room) send(ctx context.Context, m incoming) bool {
	select {
	case r.msgs <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// tryJoin asks the room to add c; false when the room has stopped.
func (r *room) tryJoin(c *client, after uint64) (joinResult, bool) {
	req := joinReq{c: c, after: after, reply: make(chan joinResult, 1)}
	select {
	case r.join <- req:
		return <-req.reply, true
	case <-r.done:
		return joinResult{}, false
	}
}

func (r *room) remove(c *client) {
	select {
	case r.leave <- c:
	case <-r.done:
	}
}
