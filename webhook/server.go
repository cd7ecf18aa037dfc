package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/engine"
)

// Path is where the API server sends AdmissionReviews of every kind.
const Path = "/validate"

// Options configure the webhook server.
type Options struct {
	// Host is the address to listen on; empty means all interfaces.
	Host string
	// Port is the HTTPS port of /validate.
	Port int
	// CertDir holds tls.crt and tls.key; they are reloaded when they change. Unused with CertRotation.
	CertDir string
	// CertRotation, when set, makes the webhook keep its own CA and serving certificate in a Secret and the
	// caBundle of its ValidatingWebhookConfiguration current (--cert-mode=rotate); it needs RESTConfig.
	CertRotation *CertRotation
	// HealthAddr serves /healthz and /readyz (plain HTTP, for probes).
	HealthAddr string
	// MetricsAddr serves /metrics (plain HTTP).
	MetricsAddr string
	// Policy is the policy configuration.
	Policy engine.Config
	// Modules replace the embedded policies (--policy-dir); nil means the embedded set.
	Modules []policies.Module
	// Inventory turns the party pod cache on; it needs RESTConfig.
	Inventory bool
	// Namespaces limits the inventory cache; empty means all namespaces.
	Namespaces []string
	// RESTConfig reaches the API server for the inventory and the certificate rotation.
	RESTConfig *rest.Config
	// ShutdownDelay is how long the server stays up but unready after ctx ends, so load balancers and the
	// API server stop sending before in-flight reviews are finished and the listener closes.
	ShutdownDelay time.Duration
	// DecisionLog bounds the decision log (one line per denied or warned request); zero values are defaults.
	DecisionLog DecisionLogOptions
	// EngineOptions are passed to engine.New, e.g. engine.WithCacheSize (none: the engine's defaults).
	EngineOptions []engine.Option
	Log           logr.Logger
}

// Server is a running webhook.
type Server struct {
	opts      Options
	engine    *engine.Engine
	inv       *Inventory
	rotator   *Rotator
	metrics   *Metrics
	mux       *http.ServeMux
	decisions *DecisionLog
	conns     conns
	serving   atomic.Bool // the HTTPS listener accepts, with a certificate loaded
	stopping  atomic.Bool
}

// New compiles the policies and prepares the servers; a policy that does not compile stops here, with its
// file and line, before anything listens.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Inventory && opts.RESTConfig == nil {
		return nil, errors.New("webhook: the inventory needs a cluster connection (or run with --inventory=false)")
	}
	if opts.CertRotation != nil && opts.RESTConfig == nil {
		return nil, errors.New("webhook: certificate rotation needs a cluster connection (or --cert-mode=files)")
	}
	var rot *Rotator
	if opts.CertRotation != nil {
		var err error
		if rot, err = NewRotator(opts.RESTConfig, *opts.CertRotation, opts.Log.WithName("certs")); err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
	}
	eng, err := engine.New(ctx, opts.Policy, opts.Modules, opts.EngineOptions...)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	s := &Server{opts: opts, engine: eng, rotator: rot, metrics: NewMetrics(), mux: http.NewServeMux()}
	s.metrics.ObserveCache(eng.CacheStats)
	s.metrics.Initialize(eng.PolicyIDs())
	if opts.Inventory {
		s.inv = NewInventory(opts.Policy)
	}
	s.decisions = NewDecisionLog(opts.Log.WithName("decision"), opts.DecisionLog, s.metrics.DecisionLogsSuppressed)
	h := &Handler{Engine: eng, Metrics: s.metrics, Log: opts.Log.WithName("handler"), Decisions: s.decisions}
	if s.inv != nil {
		h.Inventory = s.inv
	}
	s.mux.Handle(Path, s.closingConnections(h))
	return s, nil
}

// closingConnections answers "Connection: close" once the server is stopping (for HTTP/2 the server turns it
// into a GOAWAY), as http.Server's SetKeepAlivesEnabled(false) would but without closing idle connections
// under a client's feet: clients leave their kept-alive connections while the listener still accepts new
// ones, so when it closes, no client is about to write a review on a connection the server drops.
func (s *Server) closingConnections(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.stopping.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// Engine returns the server's compiled policies, for an audit that judges existing objects exactly as
// admission does.
func (s *Server) Engine() *engine.Engine { return s.engine }

// Inventory returns the party pod inventory, or nil when it is off (--inventory=false).
func (s *Server) Inventory() *Inventory { return s.inv }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Ready reports whether the server can judge requests: policies compiled (by construction), certificates
// loaded and served (with rotation: trusted by every webhook of the configuration), and the inventory synced
// when it is on.
func (s *Server) Ready(_ *http.Request) error {
	if s.stopping.Load() {
		return errors.New("shutting down")
	}
	if s.rotator != nil {
		if err := s.rotator.Ready(); err != nil {
			return fmt.Errorf("certificate rotation: %w", err)
		}
	}
	if s.inv != nil && !s.inv.Synced() {
		return errors.New("party pod inventory not synced")
	}
	if !s.serving.Load() {
		return errors.New("webhook server has not been started yet")
	}
	return nil
}

// Run serves until ctx ends, then turns unready, waits ShutdownDelay and drains in-flight reviews.
func (s *Server) Run(ctx context.Context) error {
	log := s.opts.Log
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	errc := make(chan error, 4)
	probes := http.NewServeMux()
	probes.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	probes.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ready(r); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	metrics := http.NewServeMux()
	metrics.Handle("/metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	var plain []*http.Server
	for _, p := range []struct {
		addr string
		h    http.Handler
	}{{s.opts.HealthAddr, probes}, {s.opts.MetricsAddr, metrics}} {
		if p.addr == "" || p.addr == "0" {
			continue
		}
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("webhook: listening on %s: %w", p.addr, err)
		}
		srv := &http.Server{Handler: p.h, ReadHeaderTimeout: 5 * time.Second}
		plain = append(plain, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	https, ln, err := s.listen(serveCtx, log)
	if err != nil {
		for _, srv := range plain {
			_ = srv.Close()
		}
		return fmt.Errorf("webhook: %w", err)
	}
	var closing atomic.Bool // the listener was closed on purpose
	go func() {
		if err := https.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !closing.Load() {
			errc <- err
		}
	}()
	s.serving.Store(true)
	decisionsDone := make(chan struct{})
	go func() {
		defer close(decisionsDone)
		s.decisions.Run(serveCtx)
	}()
	if s.inv != nil {
		go func() {
			if err := s.inv.Start(serveCtx, s.opts.RESTConfig, s.opts.Policy, s.opts.Namespaces); err != nil {
				errc <- fmt.Errorf("inventory: %w", err)
				return
			}
			log.Info("party pod inventory synced", "namespaces", s.opts.Namespaces)
		}()
	}
	log.Info("serving admission reviews", "path", Path, "host", s.opts.Host, "port", s.opts.Port,
		"health", s.opts.HealthAddr, "metrics", s.opts.MetricsAddr, "inventory", s.inv != nil)
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: unready first, then draining in-flight reviews", "delay", s.opts.ShutdownDelay)
		s.stopping.Store(true)
		time.Sleep(s.opts.ShutdownDelay)
	case err := <-errc:
		runErr = err
		s.stopping.Store(true)
	}
	// Drain. http.Server.Shutdown drops an HTTP/1.1 request it reads after it began (the connection is closed
	// without an answer, an EOF for a client that has sent its review), so the listener is closed first and
	// the HTTP/1.1 connections it accepted are served to the end — each closes after its answer — before
	// Shutdown sends HTTP/2 connections their GOAWAY and waits for their streams.
	closing.Store(true)
	_ = ln.Close()
	s.serving.Store(false)
	if !s.conns.waitHTTP1Quiet(drainTimeout) {
		log.Info("HTTP/1.1 connections still busy after the drain timeout; shutting down anyway", "timeout", drainTimeout)
	}
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	if err := https.Shutdown(sctx); err != nil {
		log.Error(err, "draining the admission webhook's connections")
	}
	cancel()
	stop() // the certificate watcher or rotator, the inventory and the decision log's reports
	<-decisionsDone
	for _, srv := range plain {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	if runErr != nil {
		return fmt.Errorf("webhook: %w", runErr)
	}
	return nil
}

// drainTimeout bounds each step of the drain: the API server gives up on a review after 30s at most.
const drainTimeout = 30 * time.Second

// listen loads the serving certificate (reloaded when its files change) or starts the rotator, and opens the
// HTTPS listener. Requests' contexts do not derive from ctx: ending it must not cancel the reviews being
// drained.
func (s *Server) listen(ctx context.Context, log logr.Logger) (*http.Server, net.Listener, error) {
	var getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	if s.rotator != nil {
		// Until the rotator has read its Secret, handshakes fail and /readyz says why.
		go s.rotator.Run(ctx)
		getCertificate = s.rotator.GetCertificate
	} else {
		certPath, keyPath := filepath.Join(s.opts.CertDir, "tls.crt"), filepath.Join(s.opts.CertDir, "tls.key")
		watcher, err := certwatcher.New(certPath, keyPath)
		if err != nil {
			return nil, nil, fmt.Errorf("loading the serving certificate %s: %w", certPath, err)
		}
		go func() {
			if err := watcher.Start(ctx); err != nil {
				log.Error(err, "watching the serving certificate", "cert", certPath)
			}
		}()
		getCertificate = watcher.GetCertificate
	}
	ln, err := tls.Listen("tcp", s.opts.Addr(), &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: getCertificate,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listening on %s: %w", s.opts.Addr(), err)
	}
	return &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ConnState:         s.conns.track,
		ErrorLog:          stdlog.New(logWriter{log.WithName("http")}, "", 0),
	}, ln, nil
}

// conns follows the HTTPS connections through their states, so the drain knows when no HTTP/1.1 connection
// is between accepting a request and answering it.
type conns struct {
	mu    sync.Mutex
	state map[net.Conn]connState
}

type connState struct {
	state http.ConnState
	since time.Time
}

// newConnGrace is how long a new connection that has sent no request yet counts as busy. Past it, the client
// is keeping the connection in its pool unused (Go's transport does that with connections it dialed for a
// request another connection took): the drain does not wait for it, as http.Server.Shutdown does not either
// (after 5s).
const newConnGrace = time.Second

func (c *conns) track(conn net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil {
		c.state = map[net.Conn]connState{}
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(c.state, conn)
	default:
		c.state[conn] = connState{state: st, since: time.Now()}
	}
}

// busyHTTP1 counts the connections that are, or may yet be, HTTP/1.1 with a request to answer: those reading
// or answering one, and new ones within newConnGrace — but not HTTP/2 ones, which Shutdown drains with a
// GOAWAY (net/http reports them as new until they close). ConnectionState waits for a TLS handshake in
// progress, bounded by the handshake timeout.
func (c *conns) busyHTTP1() int {
	c.mu.Lock()
	var fresh []net.Conn
	n := 0
	for conn, st := range c.state {
		switch {
		case st.state == http.StateActive:
			n++
		case st.state == http.StateNew && time.Since(st.since) < newConnGrace:
			fresh = append(fresh, conn)
		}
	}
	c.mu.Unlock()
	for _, conn := range fresh {
		if tc, ok := conn.(*tls.Conn); ok {
			if cs := tc.ConnectionState(); cs.HandshakeComplete && cs.NegotiatedProtocol == "h2" {
				continue
			}
		}
		n++
	}
	return n
}

// waitHTTP1Quiet waits until no HTTP/1.1 connection is busy, for timeout at most.
func (c *conns) waitHTTP1Quiet(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for c.busyHTTP1() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// logWriter turns the HTTP server's error log lines (TLS handshake errors, mostly) into log entries.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Addr is host:port of the HTTPS listener, for messages.
func (o Options) Addr() string { return net.JoinHostPort(o.Host, strconv.Itoa(o.Port)) }
