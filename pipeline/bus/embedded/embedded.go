// Package embedded runs an in-process NATS server with JetStream for `chatnight run`,
// so the whole pipeline works on one machine with no services installed.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure the embedded server.
type Options struct {
	// DataDir holds the JetStream file store (it lives in DataDir/nats).
	DataDir string
	// Listen is the loopback host:port clients use; port 0 picks a free one.
	Listen string
	// MaxStore caps the JetStream file store in bytes; 0 lets the server decide.
	MaxStore int64
}

// Server is a running embedded NATS server.
type Server struct {
	ns       *server.Server
	nsOpts   *server.Options // as configured: one loopback client port, nothing else
	storeDir string
	maxStore int64
	wedged   atomic.Bool // a store write failed for lack of space: JetStream takes nothing until restarted
	stop     chan struct{}
	stopOnce sync.Once
	watched  chan struct{} // closed when the watchdog has returned
}

// reenableEvery is how often the watchdog looks whether JetStream must be turned on again.
const reenableEvery = 2 * time.Second

// minFreeToReenable is the free space the store's file system needs before JetStream is
// turned on again after it ran out.
const minFreeToReenable = 64 << 20

// Start starts the server and returns once it accepts connections.
func Start(opts Options) (*Server, error) {
	host, portStr, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS listen address %q: %w (use host:port, flag --nats-listen)", opts.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS listen port %q: %w", portStr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		// The embedded server has no authentication: keep it off the network.
		return nil, fmt.Errorf("embedded NATS listens on loopback only, not %q: run a real NATS server and pass --nats-url to expose it", host)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	storeDir := filepath.Join(opts.DataDir, "nats")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return nil, fmt.Errorf("create NATS store dir %s: %w (choose a writable --data-dir)", storeDir, err)
	}
	// Probe first: nats-server would only log a failed bind and keep waiting.
	if port != server.RANDOM_PORT {
		l, err := net.Listen("tcp", net.JoinHostPort(host, portStr))
		if err != nil {
			return nil, fmt.Errorf("embedded NATS cannot listen on %s: %w (another chatnight running? choose --nats-listen)", opts.Listen, err)
		}
		l.Close()
	}
	nsOpts := &server.Options{
		ServerName:            "chatnight-embedded",
		Host:                  host,
		Port:                  port,
		JetStream:             true,
		StoreDir:              storeDir,
		JetStreamMaxStore:     opts.MaxStore,
		NoSigs:                true,
		MaxPayload:            8 << 20,
		DisableShortFirstPing: true,
	}
	ns, err := server.NewServer(nsOpts)
	if err != nil {
		return nil, fmt.Errorf("configure embedded NATS: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded NATS did not become ready within 10s; see the data dir's nats folder for a damaged store")
	}
	srv := &Server{ns: ns, nsOpts: nsOpts, storeDir: storeDir, maxStore: opts.MaxStore, stop: make(chan struct{}), watched: make(chan struct{})}
	ns.SetLoggerV2(&spaceLogger{wedged: &srv.wedged}, false, false, false)
	go srv.watch()
	return srv, nil
}

// watch turns JetStream on again once there is space: nats-server turns it off for good when
// its disk fills up, and publishes would then go unanswered until a restart.
func (s *Server) watch() {
	defer close(s.watched)
	tick := time.NewTicker(reenableEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if s.ns.JetStreamEnabled() && !s.wedged.Load() || freeBytes(s.storeDir) < minFreeToReenable {
			continue
		}
		// A stream whose write failed keeps failing (the file store's error is sticky):
		// turning JetStream off and on reloads the streams from disk.
		if s.ns.JetStreamEnabled() {
			if err := s.ns.ShutdownJetStream(); err != nil {
				continue
			}
		}
		if err := s.ns.EnableJetStream(&server.JetStreamConfig{StoreDir: s.storeDir, MaxStore: s.maxStore}); err != nil {
			continue
		}
		s.wedged.Store(false)
	}
}

// Health says why JetStream is not storing, or nil.
func (s *Server) Health() error {
	switch {
	case s.wedged.Load():
		return errors.New("embedded JetStream ran out of disk space and stores nothing until space is freed (then it resumes by itself)")
	case !s.ns.JetStreamEnabled():
		return errors.New("embedded JetStream is off (out of disk space?); it resumes by itself once there is space")
	}
	return nil
}

// spaceLogger takes the embedded server's log, which chatnight does not show, and notes a
// store write that failed for lack of space.
type spaceLogger struct{ wedged *atomic.Bool }

func (l *spaceLogger) Noticef(string, ...any) {}
func (l *spaceLogger) Warnf(string, ...any)   {}
func (l *spaceLogger) Fatalf(string, ...any)  {}
func (l *spaceLogger) Debugf(string, ...any)  {}
func (l *spaceLogger) Tracef(string, ...any)  {}
func (l *spaceLogger) Errorf(format string, v ...any) {
	if msg := fmt.Sprintf(format, v...); strings.Contains(msg, "no space left on device") || strings.Contains(msg, "out of resources") ||
		strings.Contains(msg, "resource limits exceeded") {
		l.wedged.Store(true)
	}
}

// freeBytes returns the space available to this process on dir's file system, or 0.
func freeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return st.Bavail * uint64(st.Bsize)
}

// ClientURL is the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// InProcess is the client option that connects to the server in process, through a
// pipe instead of loopback TCP: the process's own clients skip the socket system calls
// on every message. Other processes still connect to ClientURL.
func (s *Server) InProcess() nats.Option { return nats.InProcessServer(s.ns) }

// Shutdown stops the server and waits until it is down.
func (s *Server) Shutdown() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.watched
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
