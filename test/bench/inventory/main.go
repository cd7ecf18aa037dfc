package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mpcguard/mpcguard/test/bench"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/ports"
)

const (
	namespace = "mpc-bench"
	nodeName  = "bench-node-1"
)

type options struct {
	small, large int
	workers      int
	duration     time.Duration
	maxRequests  int
	concurrency  []int
	timeout      time.Duration
}

func main() {
	var opts options
	flag.IntVar(&opts.small, "small", 10, "Ready persistent party pods of the first measurement")
	flag.IntVar(&opts.large, "pods", 10000, "Ready persistent party pods of the second measurement")
	flag.IntVar(&opts.workers, "workers", 32, "concurrent workers creating pods")
	flag.DurationVar(&opts.duration, "duration", 5*time.Second, "length of each load run (after a short warm-up)")
	flag.IntVar(&opts.maxRequests, "requests", 20000, "most requests of each load run")
	flag.DurationVar(&opts.timeout, "timeout", 4*time.Minute, "bound of the whole run")
	flag.Parse()
	opts.concurrency = []int{1, 16}
	if opts.small < 1 || opts.large <= opts.small {
		fmt.Fprintln(os.Stderr, "inventory: want 1 <= --small < --pods")
		os.Exit(2)
	}
	bench.RunProgram("inventory", func(ctx context.Context) error { return run(ctx, opts, os.Stdout) })
}

func run(ctx context.Context, opts options, out io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	loadBefore := bench.LoadAverage()
	if err := cluster.CheckTools(cluster.BinDir(), "etcd", "kube-apiserver"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "mpcguard-bench-inventory-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	bench.Step("building mpcguard (MPCGUARD_BIN overrides)")
	bin, err := cluster.MpcguardBin(ctx, dir)
	if err != nil {
		return err
	}

	bench.Step("starting etcd and kube-apiserver on 127.0.0.1")
	start := time.Now()
	env, err := startControlPlane()
	if err != nil {
		return err
	}
	defer func() {
		bench.Step("stopping the control plane")
		if stopErr := env.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the control plane: %w", stopErr))
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	bench.Step("control plane up in %s", time.Since(start).Round(100*time.Millisecond))
	cfg := *env.Config
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit: the API server is what is measured
	cs, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		return fmt.Errorf("client for the control plane: %w", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := setUp(ctx, cs); err != nil {
		return err
	}

	bench.Step("creating %d Ready persistent party pods with %d workers", opts.small, opts.workers)
	smallCreate, err := createPods(ctx, cs, 0, opts.small, opts.workers)
	if err != nil {
		return err
	}

	bench.Step("starting mpcguard webhook with its inventory on namespace %s", namespace)
	hook, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: bin, Kubeconfig: kubeconfig,
		Args: []string{"--namespaces", namespace}, Dir: filepath.Join(dir, "webhook")})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := hook.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the webhook: %w", stopErr))
		}
	}()
	lg, err := newLoader(hook.URL, hook.CABundle)
	if err != nil {
		return err
	}
	if _, err := lg.waitInventory(ctx, opts.small); err != nil {
		return fmt.Errorf("%w; the end of the webhook's log:\n%s", err, hook.Logs(20))
	}
	metrics := hook.MetricsURL
	memSmall, err := memory(ctx, hook.Pid(), metrics)
	if err != nil {
		return err
	}
	var results []result
	for _, c := range opts.concurrency {
		bench.Step("load: %d pods, concurrency %d, %s or %d requests", opts.small, c, opts.duration, opts.maxRequests)
		r, err := lg.run(ctx, c, opts.duration, opts.maxRequests)
		if err != nil {
			return err
		}
		r.pods = opts.small
		results = append(results, r)
	}

	bench.Step("creating %d more Ready persistent party pods with %d workers", opts.large-opts.small, opts.workers)
	largeCreate, err := createPods(ctx, cs, opts.small, opts.large, opts.workers)
	if err != nil {
		return err
	}
	caughtUp, err := lg.waitInventory(ctx, opts.large)
	if err != nil {
		return fmt.Errorf("%w; the end of the webhook's log:\n%s", err, hook.Logs(20))
	}
	memLarge, err := memory(ctx, hook.Pid(), metrics)
	if err != nil {
		return err
	}
	for _, c := range opts.concurrency {
		bench.Step("load: %d pods, concurrency %d, %s or %d requests", opts.large, c, opts.duration, opts.maxRequests)
		r, err := lg.run(ctx, c, opts.duration, opts.maxRequests)
		if err != nil {
			return err
		}
		r.pods = opts.large
		results = append(results, r)
	}

	fmt.Fprintf(out, "\nparty pods (create + status Ready, %d workers, one kube-apiserver on 2 shared cores):\n", opts.workers)
	fmt.Fprintf(out, "  %6d pods in %8s (%4.0f pods/s)\n", opts.small, smallCreate.Round(time.Millisecond),
		float64(opts.small)/smallCreate.Seconds())
	n := opts.large - opts.small
	fmt.Fprintf(out, "  %6d pods in %8s (%4.0f pods/s); the inventory counted all %d Ready %s after the last create\n",
		n, largeCreate.Round(time.Millisecond), float64(n)/largeCreate.Seconds(), opts.large,
		caughtUp.Round(time.Millisecond))
	fmt.Fprintf(out, "\nwebhook memory (Go heap goal: about twice the heap live at the last GC):\n")
	for _, m := range []struct {
		pods int
		mem
	}{{opts.small, memSmall}, {opts.large, memLarge}} {
		fmt.Fprintf(out, "  %6d pods: VmRSS %s, VmHWM %s, Go heap in use %s, heap goal %s\n", m.pods,
			mib(m.rss), mib(m.hwm), mib(m.heap), mib(m.gcGoal))
	}
	fmt.Fprintf(out, "\nload average (1 min) of this 2-core machine: %s at the start, %s at the end\n", loadBefore, bench.LoadAverage())
	report(out, results, opts.small, opts.large, len(mix()))
	return nil
}

// startControlPlane is etcd and kube-apiserver (envtest), everything on 127.0.0.1.
func startControlPlane() (*envtest.Environment, error) {
	port, err := ports.Free()
	if err != nil {
		return nil, err
	}
	etcd := &envtest.Etcd{URL: &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}}
	etcd.Configure().Set("listen-peer-urls", "http://127.0.0.1:0")
	env := &envtest.Environment{
		BinaryAssetsDirectory:    cluster.BinDir(),
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	env.ControlPlane.Etcd = etcd
	env.ControlPlane.APIServer = &envtest.APIServer{}
	env.ControlPlane.APIServer.SecureServing.Address = "127.0.0.1"
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting etcd + kube-apiserver: %w", err)
	}
	return env, nil
}

// setUp creates the namespace and the fake node the pods are bound to (a Node object; nothing plays it).
func setUp(ctx context.Context, cs kubernetes.Interface) error {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName, Labels: map[string]string{
		"kubernetes.io/hostname": nodeName, "topology.kubernetes.io/zone": "zone-a"}}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating node %s: %w", nodeName, err)
	}
	return nil
}
