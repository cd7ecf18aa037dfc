package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/mpcguard/mpcguard/internal/policy"
)

// Path is where the API server sends AdmissionReviews of every kind.
const Path = "/validate"

// Options configure the webhook server.
type Options struct {
	// Host is the address to listen on; empty means all interfaces.
	Host string
	// Port is the HTTPS port of /validate.
	Port int
	// CertDir holds tls.crt and tls.key; they are reloaded when they change.
	CertDir string
	// HealthAddr serves /healthz and /readyz (plain HTTP, for probes).
	HealthAddr string
	// MetricsAddr serves /metrics (plain HTTP).
	MetricsAddr string
	// Policy is the policy configuration.
	Policy policy.Config
	// Inventory turns the party pod cache on; it needs RESTConfig.
	Inventory bool
	// Namespaces limits the inventory cache; empty means all namespaces.
	Namespaces []string
	// RESTConfig reaches the API server for the inventory.
	RESTConfig *rest.Config
	// ShutdownDelay is how long the server stays up but unready after ctx ends, so load balancers and the
	// API server stop sending before in-flight reviews are finished and the listener closes.
	ShutdownDelay time.Duration
	Log           logr.Logger
}

// Server is a running webhook.
type Server struct {
	opts     Options
	engine   *policy.Engine
	inv      *Inventory
	metrics  *Metrics
	hook     webhook.Server
	stopping atomic.Bool
}

// New compiles the policies and prepares the servers; a policy that does not compile stops here, with its
// file and line, before anything listens.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Inventory && opts.RESTConfig == nil {
		return nil, errors.New("webhook: the inventory needs a cluster connection (or run with --inventory=false)")
	}
	eng, err := policy.New(ctx, opts.Policy, nil)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	s := &Server{opts: opts, engine: eng, metrics: NewMetrics()}
	if opts.Inventory {
		s.inv = NewInventory(opts.Policy)
	}
	s.hook = webhook.NewServer(webhook.Options{
		Host:     opts.Host,
		Port:     opts.Port,
		CertDir:  opts.CertDir,
		CertName: "tls.crt",
		KeyName:  "tls.key",
		TLSOpts:  []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }},
	})
	h := &Handler{Engine: eng, Metrics: s.metrics, Log: opts.Log.WithName("handler")}
	if s.inv != nil {
		h.Inventory = s.inv
	}
	s.hook.Register(Path, h)
	return s, nil
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Ready reports whether the server can judge requests: policies compiled (by construction), certificates
// loaded and served, and the inventory synced when it is on.
func (s *Server) Ready(req *http.Request) error {
	if s.stopping.Load() {
		return errors.New("shutting down")
	}
	if s.inv != nil && !s.inv.Synced() {
		return errors.New("party pod inventory not synced")
	}
	return s.hook.StartedChecker()(req)
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
	hookDone := make(chan error, 1)
	go func() {
		err := s.hook.Start(serveCtx)
		hookDone <- err
		errc <- err
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
	}
	stop() // controller-runtime's server drains in-flight requests on shutdown
	for _, srv := range plain {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	if runErr == nil {
		// the webhook server returns once it has drained in-flight reviews
		if err := <-hookDone; err != nil {
			runErr = err
		}
	}
	if runErr != nil {
		return fmt.Errorf("webhook: %w", runErr)
	}
	return nil
}

// Addr is host:port of the HTTPS listener, for messages.
func (o Options) Addr() string { return net.JoinHostPort(o.Host, strconv.Itoa(o.Port)) }
