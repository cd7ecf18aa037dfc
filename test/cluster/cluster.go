package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure [Start]. The zero value is a 3-node cluster over 3 zones with the tools from [BinDir].
type Options struct {
	// Nodes is the number of fake nodes (default 3).
	Nodes int
	// Zones the nodes are spread over round-robin (default zone-a, zone-b, zone-c).
	Zones []string
	// BinDir holds the binaries of [ControlPlaneTools] (default [BinDir]).
	BinDir string
	// Log receives one line per step ("etcd ready in 1.2s"); nil discards them.
	Log io.Writer
	// StopOnInterrupt stops the cluster when the process gets SIGINT or SIGTERM, then lets the signal do
	// what it would have done (for tests; commands handle their signals themselves).
	StopOnInterrupt bool
	// ExtraArgs are more flags per process, keyed by its name ("etcd", "kube-apiserver",
	// "kube-controller-manager", "kube-scheduler", "kwok"), appended after the harness's own so that they win,
	// e.g. {"kube-controller-manager": {"--kube-api-qps=500", "--kube-api-burst=1000"}} for a burst of pods.
	ExtraArgs map[string][]string
}

// Timeouts of the start-up steps: every wait is bounded.
const (
	etcdTimeout      = 30 * time.Second
	apiserverTimeout = 90 * time.Second
	componentTimeout = 60 * time.Second
	nodeTimeout      = 60 * time.Second
	stopGrace        = 15 * time.Second
)

// Cluster is a running control plane. Stop it with [Cluster.Stop].
type Cluster struct {
	// Kubeconfig is the path of the administrator's kubeconfig (group system:masters).
	Kubeconfig string
	// Config is the same credentials for client-go.
	Config *rest.Config
	// Client is a clientset on Config.
	Client kubernetes.Interface
	// Dir is the temporary directory holding the data, certificates, kubeconfig and logs; Stop removes it.
	Dir string
	// Nodes are the names of the fake nodes, node-1..node-N.
	Nodes []string
	// BinDir holds the binaries the cluster runs.
	BinDir string

	ports      map[string]int
	extraArgs  map[string][]string
	unregister func()
	procs      []*process
	log        io.Writer
	stopOnce   sync.Once
	stopErr    error
}

// Start builds nothing: it checks the tools are built, then starts etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and KWOK on 127.0.0.1 and waits until the nodes are Ready. On error
// everything it started is stopped again. Ports are picked free just before use; if another process takes
// one in between, Start tries once more with new ones.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	c, err := start(ctx, opts)
	if err != nil && strings.Contains(err.Error(), "address already in use") && ctx.Err() == nil {
		fmt.Fprintf(opts.Log, "==> a port was taken meanwhile; starting again with new ports\n")
		c, err = start(ctx, opts)
	}
	return c, err
}

func start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if len(opts.Zones) == 0 {
		opts.Zones = []string{"zone-a", "zone-b", "zone-c"}
	}
	if opts.BinDir == "" {
		opts.BinDir = BinDir()
	}
	if err := CheckTools(opts.BinDir, ControlPlaneTools...); err != nil {
		return nil, err
	}
	stageDir, err := kwokStageDir()
	if err != nil {
		return nil, err
	}
	stages, err := kwokStages(stageDir)
	if err != nil {
		return nil, err
	}
	dir, err := OwnedTempDir(tempPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating the cluster directory: %w", err)
	}
	c = &Cluster{Dir: dir, BinDir: opts.BinDir, log: opts.Log, ports: map[string]int{}, extraArgs: opts.ExtraArgs}
	defer func() {
		if err != nil {
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
			c = nil
		}
	}()
	if opts.StopOnInterrupt {
		c.unregister = StopOnInterrupt(c)
	}
	for _, sub := range []string{"logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return c, fmt.Errorf("creating %s: %w", sub, err)
		}
	}
	start := time.Now()
	pki, err := writePKI(dir)
	if err != nil {
		return c, err
	}
	for _, name := range []string{"etcd-client", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if c.ports[name], err = FreePort(); err != nil {
			return c, err
		}
	}

	// etcd
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", c.ports["etcd-client"])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", c.ports["etcd-peer"])
	etcd, err := c.start("etcd", "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return c, err
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := c.waitFor(ctx, "etcd", etcdTimeout, []*process{etcd}, func(ctx context.Context) (bool, error) {
		return httpOK(ctx, plain, etcdURL+"/health", `"health":"true"`), nil
	}); err != nil {
		return c, err
	}

	// kube-apiserver
	apiPort := c.ports["kube-apiserver"]
	apiserver, err := c.start("kube-apiserver",
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--cert-dir", filepath.Join(dir, "tls"), "--tls-cert-file", pki.certFile, "--tls-private-key-file", pki.keyFile,
		"--client-ca-file", pki.caFile, "--token-auth-file", pki.tokenFile,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", pki.saKeyFile, "--service-account-signing-key-file", pki.saKeyFile,
		"--service-cluster-ip-range", "10.96.0.0/16",
		// The kubernetes Service's endpoint would be 127.0.0.1, which Endpoints validation refuses.
		"--endpoint-reconciler-type", "none",
		"--profiling=false")
	if err != nil {
		return c, err
	}
	host := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if c.Config, err = writeKubeconfig(c.Kubeconfig, pki.kubeconfig(host)); err != nil {
		return c, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return c, fmt.Errorf("client for %s: %w", host, err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.caPEM)
	secure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := c.waitFor(ctx, "kube-apiserver", apiserverTimeout, []*process{etcd, apiserver}, func(ctx context.Context) (bool, error) {
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	}); err != nil {
		return c, err
	}

	// kube-controller-manager, kube-scheduler, KWOK
	serving := []string{"--bind-address", "127.0.0.1", "--tls-cert-file", pki.certFile, "--tls-private-key-file", pki.keyFile}
	cm, err := c.start("kube-controller-manager", append(serving,
		"--secure-port", strconv.Itoa(c.ports["kube-controller-manager"]),
		"--kubeconfig", c.Kubeconfig, "--leader-elect=false",
		"--service-account-private-key-file", pki.saKeyFile, "--root-ca-file", pki.caFile,
		"--use-service-account-credentials", "--controllers", "*,-nodeipam",
		"--cluster-name", "mpcguard-local", "--profiling=false")...)
	if err != nil {
		return c, err
	}
	scheduler, err := c.start("kube-scheduler", append(serving,
		"--secure-port", strconv.Itoa(c.ports["kube-scheduler"]),
		"--kubeconfig", c.Kubeconfig, "--leader-elect=false", "--profiling=false")...)
	if err != nil {
		return c, err
	}
	stagesFile := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesFile, stages, 0o600); err != nil {
		return c, fmt.Errorf("writing the KWOK stages: %w", err)
	}
	kwokPort := strconv.Itoa(c.ports["kwok"])
	kwok, err := c.start("kwok", "--kubeconfig", c.Kubeconfig, "--config", stagesFile,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", fakeNodeAnnotation+"=fake",
		"--cidr", "10.244.0.0/16",
		// The fake kubelets' API (kubectl logs) is KWOK's own server on loopback.
		"--node-ip", "127.0.0.1", "--node-port", kwokPort, "--server-address", "127.0.0.1:"+kwokPort,
		"--tls-cert-file", pki.certFile, "--tls-private-key-file", pki.keyFile,
		"--node-lease-duration-seconds", "40")
	if err != nil {
		return c, err
	}
	all := []*process{etcd, apiserver, cm, scheduler, kwok}
	for _, component := range []struct {
		name string
		url  string
	}{
		{"kube-controller-manager", fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports["kube-controller-manager"])},
		{"kube-scheduler", fmt.Sprintf("https://127.0.0.1:%d/healthz", c.ports["kube-scheduler"])},
		{"kwok", fmt.Sprintf("https://127.0.0.1:%s/healthz", kwokPort)},
	} {
		if err := c.waitFor(ctx, component.name, componentTimeout, all, func(ctx context.Context) (bool, error) {
			return httpOK(ctx, secure, component.url, "ok"), nil
		}); err != nil {
			return c, err
		}
	}
	// The service-account controller runs: pods can be created in the default namespace.
	if err := c.waitFor(ctx, "the default ServiceAccount", componentTimeout, all, func(ctx context.Context) (bool, error) {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}); err != nil {
		return c, err
	}
	if err := c.applyStorageClass(ctx, stageDir); err != nil {
		return c, err
	}
	if err := c.addNodes(ctx, opts.Nodes, opts.Zones, all); err != nil {
		return c, err
	}
	fmt.Fprintf(c.log, "==> cluster up in %s: %d nodes Ready over %d zones, KUBECONFIG=%s\n",
		time.Since(start).Round(100*time.Millisecond), len(c.Nodes), min(len(opts.Zones), len(c.Nodes)), c.Kubeconfig)
	return c, nil
}

// Stop ends every process, waits for them and removes the cluster directory. It is safe to call more than
// once and from several goroutines; later calls return the first call's error.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.unregister != nil {
			c.unregister()
		}
		// Clients first, then the API server (whose shutdown needs etcd), then etcd.
		var errs []error
		for _, tier := range [][]string{{"kwok", "kube-scheduler", "kube-controller-manager"}, {"kube-apiserver"}, {"etcd"}} {
			var procs []*process
			for _, p := range c.procs {
				if slices.Contains(tier, p.name) {
					procs = append(procs, p)
				}
			}
			errs = append(errs, stopProcesses(procs, stopGrace))
		}
		err := errors.Join(errs...)
		if rmErr := os.RemoveAll(c.Dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("removing %s: %w", c.Dir, rmErr))
		}
		c.stopErr = err
	})
	return c.stopErr
}

// Ports are the loopback ports the cluster's processes listen on, by process.
func (c *Cluster) Ports() map[string]int {
	out := make(map[string]int, len(c.ports))
	for k, v := range c.ports {
		out[k] = v
	}
	return out
}

// Pids are the process (and process group) ids of the cluster's processes.
func (c *Cluster) Pids() map[string]int {
	out := make(map[string]int, len(c.procs))
	for _, p := range c.procs {
		out[p.name] = p.Pid()
	}
	return out
}

// Logs returns the end of every process's log (n lines each), for a failing test to show.
func (c *Cluster) Logs(n int) string {
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", p.name, p.logPath, p.tail(n))
	}
	return b.String()
}

func (c *Cluster) start(name string, args ...string) (*process, error) {
	args = append(slices.Clip(args), c.extraArgs[name]...)
	p, err := startProcess(name, filepath.Join(c.BinDir, name), args,
		filepath.Join(c.Dir, "logs", name+".log"), os.Environ())
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// waitFor polls ready every 200ms until it is true, timeout passes, ctx ends, or one of procs exits.
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, procs []*process,
	ready func(context.Context) (bool, error)) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		for _, p := range procs {
			if p.exited() {
				return fmt.Errorf("waiting for %s: %w", what, p.exitError())
			}
		}
		ok, err := ready(ctx)
		if ok {
			fmt.Fprintf(c.log, "==> %s ready in %s\n", what, time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			var tails strings.Builder
			for _, p := range procs {
				fmt.Fprintf(&tails, "\n--- %s:\n%s", p.name, p.tail(10))
			}
			//nolint:errorlint // the last error, possibly nil, is for the reader; the cause is ctx.Err()
			return fmt.Errorf("%s not ready within %s (last error: %v): %w%s", what, timeout, lastErr, ctx.Err(), tails.String())
		case <-tick.C:
		}
	}
}

func httpOK(ctx context.Context, client *http.Client, url, want string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode == http.StatusOK && strings.Contains(string(body), want)
}

// FreePort asks the kernel for a free port on 127.0.0.1.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
