package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure [Start]. The zero value is a 3-node cluster over 3 zones with the tools from [BinDir].
type Options struct {
	// Nodes is the number of fake nodes (default 3, or none with RealNode).
	Nodes int
	// RealNode adds a real node that runs containers (kubelet, kube-proxy, containerd, runc, CNI): see
	// [RealNodeName]. The API server then listens on the machine's own address ([NodeAddress]) so that pods
	// reach it, and authorizes the kubelet with the Node authorizer. One per machine at a time.
	RealNode bool
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
	// FeatureGates are the API server's --feature-gates, e.g. {"ManifestBasedAdmissionControlConfig": true}
	// for manifest-based admission (alpha in 1.36).
	FeatureGates map[string]bool
	// AdmissionConfig is an AdmissionConfiguration (apiserver.config.k8s.io/v1) that Start writes into the
	// cluster's directory and hands to the API server as --admission-control-config-file. A directory it
	// names (a plugin's staticManifestsDir) must be absolute and exist before Start: the API server refuses
	// to start otherwise.
	AdmissionConfig []byte
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
	// NodeIP is the real node's address (the machine's own), empty without a real node.
	NodeIP string

	ports      map[string]int
	extraArgs  map[string][]string
	unregister func()
	procs      []*Process
	realNode   *realNode
	nodeLock   *os.File
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
	if opts.Nodes <= 0 && !opts.RealNode {
		opts.Nodes = 3
	}
	tools := ControlPlaneTools
	if opts.RealNode {
		tools = append(slices.Clip(tools), RealNodeTools...)
		if err := CheckHostPackages(); err != nil {
			return nil, err
		}
	}
	if len(opts.Zones) == 0 {
		opts.Zones = []string{"zone-a", "zone-b", "zone-c"}
	}
	if opts.BinDir == "" {
		opts.BinDir = BinDir()
	}
	if err := CheckTools(opts.BinDir, tools...); err != nil {
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
	bindIP := "127.0.0.1"
	var sans, users []string
	if opts.RealNode {
		lock, err := lockRealNode(ctx, c.log)
		if err != nil {
			return c, err
		}
		c.nodeLock = lock
		// A killed run's leftovers first; then what the host looks like, for Stop (or the next sweep) to restore.
		if err := SweepRealNode(opts.BinDir); err != nil {
			return c, err
		}
		if err := recordHostState(); err != nil {
			return c, err
		}
		if bindIP, err = NodeAddress(); err != nil {
			return c, err
		}
		c.realNode = &realNode{}
		c.NodeIP = bindIP
		sans = []string{bindIP, "10.96.0.1", RealNodeName}
		users = []string{"system:node:" + RealNodeName + ",system:nodes", "system:kube-proxy,"}
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return c, fmt.Errorf("creating the log directory: %w", err)
	}
	start := time.Now()
	b, err := newBoot(c, opts, bindIP, stages, sans, users)
	if err != nil {
		return c, err
	}
	if err := c.bootComponents(ctx, b); err != nil {
		return c, err
	}
	if opts.Nodes > 0 {
		if !opts.RealNode {
			if err := c.applyStorageClass(ctx, stageDir); err != nil {
				return c, err
			}
		}
		if err := c.addNodes(ctx, opts.Nodes, opts.Zones, c.procs); err != nil {
			return c, err
		}
	}
	real := ""
	if opts.RealNode {
		real = " and real node " + RealNodeName
	}
	fmt.Fprintf(c.log, "==> cluster up in %s: %d fake nodes%s Ready, KUBECONFIG=%s\n",
		time.Since(start).Round(100*time.Millisecond), len(c.Nodes), real, c.Kubeconfig)
	return c, nil
}

// Stop ends every process, waits for them and removes the cluster directory. It is safe to call more than
// once and from several goroutines; later calls return the first call's error.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.unregister != nil {
			c.unregister()
		}
		var errs []error
		if c.realNode != nil {
			// Pods first, through the API, so that the kubelet tears their sandboxes down.
			c.drainRealNode(context.Background())
		}
		// Then every process in the reverse of the start order: the real node, KWOK, the controllers, the API
		// server (whose shutdown needs etcd), etcd.
		for i := len(components) - 1; i >= 0; i-- {
			comp := components[i]
			errs = append(errs, c.stopTier(comp.name))
			if comp.stopped != nil {
				errs = append(errs, comp.stopped(c))
			}
		}
		if c.realNode != nil {
			errs = append(errs, SweepRealNode(c.BinDir))
		}
		if c.nodeLock != nil {
			errs = append(errs, c.nodeLock.Close()) // releases the flock
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

// stopTier stops the processes of the named components together.
func (c *Cluster) stopTier(names ...string) error {
	var procs []*Process
	for _, p := range c.procs {
		if slices.Contains(names, p.name) {
			procs = append(procs, p)
		}
	}
	return stopProcesses(procs, stopGrace)
}

func (c *Cluster) startWithEnv(name string, env []string, args ...string) (*Process, error) {
	args = append(slices.Clip(args), c.extraArgs[name]...)
	p, err := StartProcess(name, filepath.Join(c.BinDir, name), args,
		filepath.Join(c.Dir, "logs", name+".log"), env)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// waitFor polls ready every 200ms until it is true, timeout passes, ctx ends, or one of procs exits.
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, procs []*Process,
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
