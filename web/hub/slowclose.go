package hub

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// A viewer too slow to take a message within WriteWait is dropped with close code 1013, as
// the README promises, not with a bare TCP close (which the page sees as 1006). gorilla
// refuses to write anything after a timed-out write, whose frame may be half sent; so the
// connection it writes to is a trackedConn, which keeps the unsent rest of a failed write:
// closeSlow sends that rest, then the close frame, so a viewer that is slow but alive reads
// a well-formed stream ending in 1013.

// trackedConn remembers what its last failed Write left unsent.
type trackedConn struct {
	net.Conn
	mu      sync.Mutex
	pending []byte
}

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.mu.Lock()
		c.pending = append(c.pending[:0], p[n:]...)
		c.mu.Unlock()
	}
	return n, err
}

// closeSlow finishes the frame a timed-out write left half sent, then sends a close frame
// with code and text, all within wait, and closes the connection.
func (c *trackedConn) closeSlow(code int, text string, wait time.Duration) {
	defer c.Conn.Close()
	c.mu.Lock()
	rest := c.pending
	c.pending = nil
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(time.Now().Add(wait)); err != nil {
		return
	}
	if _, err := c.Conn.Write(rest); err != nil {
		return
	}
	payload := websocket.FormatCloseMessage(code, text)
	if len(payload) > 125 {
		payload = payload[:125]
	}
	// A server's close frame: FIN and opcode 8, unmasked, the payload length in one byte.
	_, _ = c.Conn.Write(append([]byte{0x88, byte(len(payload))}, payload...))
}

// trackingWriter makes the connection gorilla hijacks for the websocket a trackedConn.
type trackingWriter struct {
	http.ResponseWriter
	conn *trackedConn
}

func (w *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hub: the response cannot be taken over for a websocket")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &trackedConn{Conn: conn}
	return w.conn, rw, nil
}
