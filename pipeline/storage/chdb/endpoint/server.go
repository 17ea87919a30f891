package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/chatnight/chatnight/pipeline/storage/chdb"
)

// Server serves a Handler on a TCP address.
type Server struct {
	opts    Options
	handler *Handler
	srv     *http.Server
	ln      net.Listener
	done    chan struct{} // closed when the serving goroutine has returned
	err     error         // why it returned, other than Shutdown; read after done
}

// NewServer returns a server for the engine behind conn. It does not listen until Start.
func NewServer(conn *chdb.Conn, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	h, err := NewHandler(conn, opts)
	if err != nil {
		return nil, err
	}
	return &Server{opts: opts, handler: h}, nil
}

// Start checks the options, listens and serves in the background until Shutdown. It refuses a
// non-loopback address unless every configured user has a password, and says so, as it does when
// the address is in use.
func (s *Server) Start(ctx context.Context) error {
	if s.srv != nil {
		return errors.New("endpoint: server already started")
	}
	if err := s.opts.validate(ctx); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("endpoint: cannot serve the embedded ClickHouse on %s: the address is already in use "+
				"(by another ClickHouse or chatnight?); choose another with %s: %w", s.opts.Addr, AddrFlag, err)
		}
		return fmt.Errorf("endpoint: cannot serve the embedded ClickHouse on %s (set with %s): %w", s.opts.Addr, AddrFlag, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			s.opts.Logger.Error("clickhouse endpoint stopped", slog.String("addr", ln.Addr().String()), slog.Any("error", err))
		}
	}()
	s.opts.Logger.Info("clickhouse endpoint listening", slog.String("addr", ln.Addr().String()))
	return nil
}

// Addr returns the address the server listens on, with the port it got for port 0; before Start,
// the configured address.
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.opts.Addr
	}
	return s.ln.Addr().String()
}

// Done is closed when the server has stopped serving, after Shutdown or a failure (see Err); it
// is nil before Start.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why the server stopped serving on its own, once Done is closed.
func (s *Server) Err() error { return s.err }

// Shutdown stops listening, waits for the requests in flight (until ctx ends) and closes the
// handler's read-only connection. The caller's connection stays open.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.srv != nil {
		err = s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		<-s.done
	}
	if cerr := s.handler.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("endpoint: shut down: %w", err)
	}
	return nil
}

// Serve runs the endpoint for the engine behind conn until ctx ends, then shuts it down, giving
// requests in flight up to ten seconds.
func Serve(ctx context.Context, conn *chdb.Conn, opts Options) error {
	s, err := NewServer(conn, opts)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		s.handler.Close()
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = s.Shutdown(sctx)
	if s.Err() != nil {
		return fmt.Errorf("endpoint: serve on %s: %w", s.Addr(), s.Err())
	}
	return err
}
