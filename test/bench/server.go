package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/test/bench/opa"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/ports"
)

// The servers, by the names the report uses.
const (
	Mpcguard = "mpcguard"
	// MpcguardUncached is mpcguard with --decision-cache-size=0: every review evaluated, no memoised decision.
	MpcguardUncached = "mpcguard-uncached"
	// OPADirect is OPA's server with the rules written against input.request (opa/direct.rego), the set-up of
	// OPA's admission tutorial and the best OPA configuration measured.
	OPADirect = "opa-direct"
	// OPA is OPA's server with the policy modules behind the wrapper that builds their input (opa/wrapper.rego).
	OPA = "opa"
	// Floor is net/http and crypto/tls answering a fixed allow without decoding (test/bench/floor).
	Floor = "floor"
	// Noop is a no-op webhook on controller-runtime, which decodes every review (test/bench/noop).
	Noop = "no-op"
)

// AllServers is every server, in the report's order.
var AllServers = []string{Mpcguard, MpcguardUncached, OPADirect, OPA, Floor, Noop}

// Deciders are the servers that apply the policies and must decide as mpcguard does; the others allow all.
var Deciders = []string{Mpcguard, MpcguardUncached, OPADirect, OPA}

// ErrNotReady means a server did not come up; the error carries the end of its log.
var ErrNotReady = errors.New("server not ready")

// Options configure [Start].
type Options struct {
	// Dir receives certificates, binaries, OPA's files and the servers' logs (required).
	Dir string
	// Servers to start (default [AllServers]).
	Servers []string
	// MpcguardBin is the mpcguard binary (default $MPCGUARD_BIN, else ./cmd/mpcguard installed into the tool
	// cache's bench directory, relinked only when it changed).
	MpcguardBin string
	// OPABin is the opa binary (default opa in the tool cache, built by test/tools/build.sh if missing).
	OPABin string
	// Policy is the policy configuration of mpcguard and OPA (the zero value: the defaults).
	Policy Policy
	// Progress receives what is being built and started (default discarded).
	Progress io.Writer
}

// Server is one server process on 127.0.0.1.
type Server struct {
	Name string
	// URL is where reviews are POSTed (with the API server's ?timeout=10s).
	URL string
	// Bin is the binary it runs.
	Bin string
	// Args are its arguments.
	Args    []string
	LogPath string
	// ServerName is the name clients verify its certificate for (default the URL's host).
	ServerName string
	// Processes are measured (CPU, peak RSS) for a server this package did not start, e.g. the webhook pods
	// of the real node behind a Service; empty for those it started, whose own process is measured.
	Processes []int

	proc *cluster.Process
}

// Servers are the started servers and the CA their certificate is signed by.
type Servers struct {
	List []*Server
	// CAPEM is the CA clients must trust.
	CAPEM []byte

	stopOnce sync.Once
	stopErr  error
}

// Get returns the server of that name, or nil.
func (s *Servers) Get(name string) *Server {
	for _, srv := range s.List {
		if srv.Name == name {
			return srv
		}
	}
	return nil
}

// Start builds what is missing and starts the servers, each on a free port of 127.0.0.1 with one serving
// certificate, and waits until each answers a review. On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (s *Servers, err error) {
	if opts.Dir == "" {
		return nil, errors.New("bench: Options.Dir is required")
	}
	if len(opts.Servers) == 0 {
		opts.Servers = AllServers
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	certDir := filepath.Join(opts.Dir, "certs")
	ca, err := certs.WriteLoopback(certDir, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("bench: serving certificate: %w", err)
	}
	cfg, err := opts.Policy.Config()
	if err != nil {
		return nil, err
	}
	bins, err := binaries(ctx, opts, progress)
	if err != nil {
		return nil, err
	}
	s = &Servers{CAPEM: ca.CertPEM}
	defer func() {
		if err != nil {
			_ = s.Stop()
			s = nil
		}
	}()
	for _, name := range opts.Servers {
		srv, err := newServer(name, bins[name], opts.Dir, certDir, opts.Policy, cfg)
		if err != nil {
			return s, err
		}
		fmt.Fprintf(progress, "==> starting %s: %s %s\n", name, srv.Bin, strings.Join(srv.Args, " "))
		if err := srv.start(); err != nil {
			return s, err
		}
		s.List = append(s.List, srv)
	}
	client := NewClient(s.CAPEM)
	defer client.CloseIdleConnections()
	for _, srv := range s.List {
		if err := srv.waitReady(ctx, client); err != nil {
			return s, err
		}
	}
	return s, nil
}

// binaries finds or builds every binary the servers need, concurrently.
func binaries(ctx context.Context, opts Options, progress io.Writer) (map[string]string, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		bins = map[string]string{}
	)
	find := func(name string, f func() (string, error)) {
		wg.Go(func() {
			bin, err := f()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("bench: the %s binary: %w", name, err))
				return
			}
			bins[name] = bin
		})
	}
	for _, name := range opts.Servers {
		switch name {
		case Mpcguard, MpcguardUncached:
			find(name, func() (string, error) {
				if opts.MpcguardBin != "" {
					return opts.MpcguardBin, nil
				}
				if bin := os.Getenv("MPCGUARD_BIN"); bin != "" {
					if _, err := os.Stat(bin); err != nil {
						return "", fmt.Errorf("MPCGUARD_BIN: %w", err)
					}
					return bin, nil
				}
				fmt.Fprintln(progress, "==> go install ./cmd/mpcguard into the tool cache (MPCGUARD_BIN skips it)")
				return goInstall(ctx, "./cmd/mpcguard", "mpcguard")
			})
		case OPA, OPADirect:
			find(name, func() (string, error) {
				if opts.OPABin != "" {
					return opts.OPABin, nil
				}
				if cluster.CheckTools(cluster.BinDir(), "opa") == nil {
					return filepath.Join(cluster.BinDir(), "opa"), nil
				}
				dir, err := cluster.Build(ctx, progress, "opa")
				if err != nil {
					return "", err
				}
				return filepath.Join(dir, "opa"), nil
			})
		case Noop:
			find(name, func() (string, error) { return goInstall(ctx, "./test/bench/noop", "noop") })
		case Floor:
			find(name, func() (string, error) { return goInstall(ctx, "./test/bench/floor", "floor") })
		default:
			return nil, fmt.Errorf("bench: unknown server %q (known: %s)", name, strings.Join(AllServers, ", "))
		}
	}
	wg.Wait()
	return bins, errors.Join(errs...)
}

// goInstall installs pkg into the tool cache's bench directory ($MPCGUARD_CACHE/bench, outside the checkout)
// and returns the binary's path: go install relinks only when the package changed, which saves the link
// (seconds on two cores) on every later run.
func goInstall(ctx context.Context, pkg, name string) (string, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cluster.CacheDir(), "bench")
	cmd := exec.CommandContext(ctx, "go", "install", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", pkg, err, out)
	}
	return filepath.Join(dir, name), nil
}

func newServer(name, bin, dir, certDir string, pol Policy, cfg engine.Config) (*Server, error) {
	free := make([]int, 3)
	for i := range free {
		var err error
		if free[i], err = ports.Free(); err != nil {
			return nil, err
		}
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(free[i]) }
	srv := &Server{Name: name, Bin: bin, LogPath: filepath.Join(dir, strings.ReplaceAll(name, "-", "")+".log")}
	switch name {
	case Mpcguard, MpcguardUncached:
		srv.URL = "https://" + addr(0) + "/validate?timeout=10s"
		srv.Args = []string{"webhook", "--inventory=false", "--host", "127.0.0.1", "--port", strconv.Itoa(free[0]),
			"--cert-dir", certDir, "--health-addr", addr(1), "--metrics-addr", addr(2), "--shutdown-delay", "0s"}
		if name == MpcguardUncached {
			srv.Args = append(srv.Args, "--decision-cache-size=0")
		}
		srv.Args = append(srv.Args, pol.Args()...)
	case OPA:
		files, err := opa.Write(filepath.Join(dir, "opa"), cfg)
		if err != nil {
			return nil, fmt.Errorf("bench: OPA's files: %w", err)
		}
		srv.URL = "https://" + addr(0) + "/?timeout=10s"
		// Errors only: at info level OPA logs every request, which would measure its logger.
		srv.Args = append([]string{"run", "--server", "--addr", addr(0),
			"--tls-cert-file", filepath.Join(certDir, "tls.crt"), "--tls-private-key-file", filepath.Join(certDir, "tls.key"),
			"--log-level", "error", "--log-level-request", "error", "--skip-version-check", "--shutdown-grace-period", "1"},
			files...)
	case OPADirect:
		files, err := opa.WriteDirect(filepath.Join(dir, "opa-direct"), cfg)
		if err != nil {
			return nil, fmt.Errorf("bench: OPA's files: %w", err)
		}
		srv.URL = "https://" + addr(0) + "/?timeout=10s"
		srv.Args = append([]string{"run", "--server", "--addr", addr(0),
			"--tls-cert-file", filepath.Join(certDir, "tls.crt"), "--tls-private-key-file", filepath.Join(certDir, "tls.key"),
			"--log-level", "error", "--log-level-request", "error", "--skip-version-check", "--shutdown-grace-period", "1",
			"--set", "default_decision=/direct/main"},
			files...)
	case Noop, Floor:
		srv.URL = "https://" + addr(0) + "/validate?timeout=10s"
		srv.Args = []string{"--host", "127.0.0.1", "--port", strconv.Itoa(free[0]), "--cert-dir", certDir}
	}
	return srv, nil
}

// start runs the server in its own process group, its output in LogPath (a cluster.Process: the kernel kills
// it if this process dies, so an interrupted run leaves nothing behind).
func (s *Server) start() error {
	if err := os.Remove(s.LogPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bench: the log of %s: %w", s.Name, err)
	}
	proc, err := cluster.StartProcess(s.Name, s.Bin, s.Args, s.LogPath, os.Environ())
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	s.proc = proc
	return nil
}

// Pid is the server's process id (0 for a server this package did not start).
func (s *Server) Pid() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// pids are the processes measured under load: the server's own, or its Processes.
func (s *Server) pids() []int {
	if pid := s.Pid(); pid != 0 {
		return []int{pid}
	}
	return s.Processes
}

func (s *Server) exited() bool { return s.proc != nil && s.proc.Exited() }

// Logs is the last n lines of the server's log.
func (s *Server) Logs(n int) string { return cluster.TailFile(s.LogPath, n) }

// probe is a review every server allows: a ConfigMap, a kind the policies do not look at.
var probe = sync.OnceValues(func() (Item, error) {
	items, err := EdgeCases()
	if err != nil {
		return Item{}, err
	}
	i := slices.IndexFunc(items, func(it Item) bool { return strings.HasPrefix(it.Name, "ConfigMap") })
	return items[i], nil
})

// waitReady sends the probe review until it is answered, for up to a minute.
func (s *Server) waitReady(ctx context.Context, client *http.Client) error {
	item, err := probe()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var buf bytes.Buffer
	for {
		status, body, err := Send(ctx, client, s.URL, item.Body, &buf)
		if err == nil {
			if _, err = ParseAnswer(status, body, item.UID); err == nil {
				return nil
			}
		}
		if s.exited() {
			return fmt.Errorf("%w: %w", ErrNotReady, s.proc.ExitError())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s within a minute: %w (last: %w); the end of %s:\n%s", ErrNotReady, s.Name,
				ctx.Err(), err, s.LogPath, s.Logs(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM to the server's process group, and SIGKILL after grace.
func (s *Server) stop(grace time.Duration) error {
	if s.proc == nil {
		return nil
	}
	if err := s.proc.Stop(grace); err != nil {
		return fmt.Errorf("bench: %s: %w", s.Name, err)
	}
	return nil
}

// Stop ends every server (all at once) and waits for them. Later calls return the first call's error.
func (s *Servers) Stop() error {
	s.stopOnce.Do(func() {
		errs := make([]error, len(s.List))
		var wg sync.WaitGroup
		for i, srv := range s.List {
			wg.Go(func() { errs[i] = srv.stop(5 * time.Second) })
		}
		wg.Wait()
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// NewClient is a client trusting caPEM that keeps one HTTP/1.1 connection alive, as one API server connection
// to a webhook: the load generator gives each worker its own.
func NewClient(caPEM []byte) *http.Client { return NewClientFor(caPEM, "") }

// NewClientFor is [NewClient] verifying the server's certificate for serverName (empty: the URL's host), as the
// API server does for a Service (<service>.<namespace>.svc) while connecting to its ClusterIP.
func NewClientFor(caPEM []byte, serverName string) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: serverName},
			MaxConnsPerHost:     1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// Send POSTs one review and reads the answer into buf, returning the HTTP status and the body (valid until
// buf is reused).
func Send(ctx context.Context, client *http.Client, url string, review []byte, buf *bytes.Buffer) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(review))
	if err != nil {
		return 0, nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, buf.Bytes(), nil
}
