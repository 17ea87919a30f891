package hub

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// client is one websocket viewer. The room's run goroutine owns after and writes to
// send; writePump drains send; readPump reads (and discards) what the viewer sends so
// that pongs and close frames are handled.
type client struct {
	hub  *Hub
	room *room
	conn *websocket.Conn
	raw  *trackedConn // conn's connection, to close a slow viewer with 1013 (see slowclose.go)

	send  chan *websocket.PreparedMessage
	after uint64 // last sequence queued; owned by the room

	kickOnce sync.Once
	kicked   chan struct{} // closed when the server drops the client
	kickCode int
	kickText string
	kickWhy  string
}

func newClient(h *Hub, r *room, conn *websocket.Conn) *client {
	return &client{
		hub:    h,
		room:   r,
		conn:   conn,
		send:   make(chan *websocket.PreparedMessage, h.opts.SendQueue),
		kicked: make(chan struct{}),
	}
}

// kick asks writePump to close the connection with code and text, and counts the drop
// under reason. Safe from any goroutine; only the first kick counts.
func (c *client) kick(code int, text, reason string) {
	c.kickOnce.Do(func() {
		c.kickCode, c.kickText, c.kickWhy = code, text, reason
		c.hub.metrics.dropped.WithLabelValues(reason).Inc()
		close(c.kicked)
	})
}

// countWriteFailure counts a failed write as a drop unless the client was being kicked
// (then the kick was counted).
func (c *client) countWriteFailure() {
	select {
	case <-c.kicked:
	default:
		c.hub.metrics.dropped.WithLabelValues(DropWrite).Inc()
	}
}

// closeIfSlow closes the viewer with 1013 (try again later) when err says it was too slow
// to take a message within WriteWait, once what was half sent is through.
func (c *client) closeIfSlow(err error) {
	var ne net.Error
	if c.raw != nil && errors.As(err, &ne) && ne.Timeout() {
		c.raw.closeSlow(websocket.CloseTryAgainLater, "too slow: a message waited over the write timeout, reconnect to resume", c.hub.opts.WriteWait)
	}
}

// writeNow writes one message directly; used before the pumps start.
func (c *client) writeNow(data []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.hub.opts.WriteWait))
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		c.closeIfSlow(err)
		return err
	}
	c.hub.metrics.sent.Inc()
	return nil
}

// closeWith sends a close frame and closes the connection.
func (c *client) closeWith(code int, text string) {
	msg := websocket.FormatCloseMessage(code, text)
	c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.hub.opts.WriteWait))
	c.conn.Close()
}

// writePump writes queued messages and pings until the client is kicked, a write
// fails, or stop is closed. It closes the connection when it returns.
func (c *client) writePump(stop <-chan struct{}) {
	ticker := time.NewTicker(c.hub.opts.PingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		// A kick wins over queued messages: a slow client gets its close frame now.
		select {
		case <-c.kicked:
			c.closeWith(c.kickCode, c.kickText)
			return
		case <-stop:
			return
		default:
		}
		select {
		case <-c.kicked:
			continue
		case <-stop:
			return
		case pm := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(c.hub.opts.WriteWait))
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				c.countWriteFailure()
				c.closeIfSlow(err)
				return
			}
			c.hub.metrics.sent.Inc()
		case <-ticker.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.opts.WriteWait)); err != nil {
				c.countWriteFailure()
				return
			}
		}
	}
}

// readPump reads until the connection fails or closes. Viewers have nothing to say;
// their messages are read and dropped, and a frame over MaxMessageSize closes the
// connection with 1009.
func (c *client) readPump() {
	c.conn.SetReadLimit(c.hub.opts.MaxMessageSize)
	c.conn.SetReadDeadline(time.Now().Add(c.hub.opts.PongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(c.hub.opts.PongWait))
	})
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			select {
			case <-c.kicked:
				return // the server closed it
			default:
			}
			var ne net.Error
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				c.hub.metrics.dropped.WithLabelValues(DropTooBig).Inc()
			case errors.As(err, &ne) && ne.Timeout():
				c.hub.metrics.dropped.WithLabelValues(DropTimeout).Inc()
			}
			return
		}
	}
}
