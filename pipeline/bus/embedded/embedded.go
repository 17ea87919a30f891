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
	ns *server.Server
}

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
	ns, err := server.NewServer(&server.Options{
		ServerName:            "chatnight-embedded",
		Host:                  host,
		Port:                  port,
		JetStream:             true,
		StoreDir:              storeDir,
		JetStreamMaxStore:     opts.MaxStore,
		NoSigs:                true,
		NoLog:                 true,
		MaxPayload:            8 << 20,
		DisableShortFirstPing: true,
	})
	if err != nil {
		return nil, fmt.Errorf("configure embedded NATS: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded NATS did not become ready within 10s; see the data dir's nats folder for a damaged store")
	}
	return &Server{ns: ns}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// InProcess is the client option that connects to the server in process, through a
// pipe instead of loopback TCP: the process's own clients skip the socket system calls
// on every message. Other processes still connect to ClientURL.
func (s *Server) InProcess() nats.Option { return nats.InProcessServer(s.ns) }

// Shutdown stops the server and waits until it is down.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
