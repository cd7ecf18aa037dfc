package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/test/bench"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The rows of the report.
const (
	// ServiceRow is the Service's ClusterIP, both webhook pods behind it.
	ServiceRow = "service (2 pods)"
	// PodRow is one webhook pod's IP.
	PodRow = "one pod"
)

// errFailed means the run completed but requests failed or answers differed.
var errFailed = errors.New("requests failed or answers differed")

type options struct {
	duration       time.Duration
	rounds         int
	maxRequests    int
	concurrencies  []int
	podConcurrency int
	output         string
	cpuLimit       string
}

func main() {
	var (
		o           options
		concurrency string
	)
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "time per cell (one target at one concurrency in one round)")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	flag.IntVar(&o.maxRequests, "max-requests", 100000, "requests per cell at most (0: bounded by --duration only)")
	flag.StringVar(&concurrency, "concurrency", "1,4,16,64,256", "comma-separated concurrencies at which the Service is loaded")
	flag.IntVar(&o.podConcurrency, "pod-concurrency", 64, "concurrency at which one webhook pod is loaded directly (0: not at all)")
	flag.StringVar(&o.output, "o", "table", "output: table (markdown) or json")
	flag.StringVar(&o.cpuLimit, "webhook-cpu-limit", "", "the webhook pods' CPU limit, e.g. 1 or 2000m (default the chart's)")
	flag.Parse()
	var err error
	if o.concurrencies, err = bench.ParseCounts(concurrency); err != nil {
		fail(2, fmt.Errorf("--concurrency: %w", err))
	}
	switch {
	case o.output != "table" && o.output != "json":
		fail(2, fmt.Errorf("-o %q: want table or json", o.output))
	case o.rounds < 1 || o.duration <= 0 || o.maxRequests < 0 || o.podConcurrency < 0:
		fail(2, errors.New("--rounds, --duration must be positive, --max-requests and --pod-concurrency not negative"))
	case os.Geteuid() != 0:
		fail(2, errors.New("the real node needs root (sudo make bench-incluster)"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = run(ctx, o)
	switch {
	case ctx.Err() != nil:
		fail(130, errors.New("interrupted"))
	case err != nil:
		fail(1, err)
	}
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "incluster:", err)
	os.Exit(code)
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// Report is what -o json writes.
type Report struct {
	Settings  bench.Settings  `json:"settings"`
	Webhook   Webhook         `json:"webhook"`
	Summaries []bench.Summary `json:"summaries"`
	Cells     []bench.Cell    `json:"cells"`
}

func run(ctx context.Context, o options) (err error) {
	if err := cluster.CheckTools(cluster.BinDir(), scenario.InClusterTools...); err != nil {
		return fmt.Errorf("%w (run make tools)", err)
	}
	values, err := standInValues(o.cpuLimit)
	if err != nil {
		return err
	}
	env, err := scenario.UpInCluster(ctx, scenario.InClusterOptions{Log: os.Stderr, Values: values})
	if err != nil {
		return fmt.Errorf("bringing up mpc-system on the real node: %w", err)
	}
	defer func() {
		if downErr := env.Down(); downErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the cluster and the registry: %w", downErr))
		}
	}()
	wh, err := findWebhook(ctx, env.Cluster.Client, scenario.DemoNamespace)
	if err != nil {
		return err
	}
	progress("==> webhook Service %s (%s) -> pods %s; certificate verified for %s", wh.ServiceURL, wh.ServiceName,
		strings.Join(wh.podNames(), ", "), wh.ServerName)
	// Both pods' processes are measured for the Service, the first pod's for the pod row.
	var all []int
	for _, p := range wh.Pods {
		all = append(all, p.Pids...)
	}
	targets := []*bench.Server{{Name: ServiceRow, URL: wh.ServiceURL, ServerName: wh.ServerName, Processes: all}}
	if o.podConcurrency > 0 {
		p := wh.Pods[0]
		targets = append(targets, &bench.Server{Name: PodRow, URL: p.URL, ServerName: wh.ServerName, Processes: p.Pids})
	}
	load := bench.LoadAverage()
	mix, err := bench.Mix()
	if err != nil {
		return err
	}
	want, err := verify(ctx, wh, targets, mix)
	if err != nil {
		return err
	}
	concs := slices.Clone(o.concurrencies)
	if o.podConcurrency > 0 {
		concs = append(concs, o.podConcurrency)
	}
	concs = slices.Compact(slices.Sorted(slices.Values(concs)))
	loaded := func(name string, c int) bool {
		if name == ServiceRow {
			return slices.Contains(o.concurrencies, c)
		}
		return c == o.podConcurrency
	}
	total := 0
	for _, c := range concs {
		for _, t := range targets {
			if loaded(t.Name, c) {
				total += o.rounds
			}
		}
	}
	rep := Report{Webhook: *wh, Settings: bench.Settings{Duration: o.duration, MaxRequests: o.maxRequests,
		Rounds: o.rounds, Concurrencies: o.concurrencies, Items: len(mix), CPUs: runtime.NumCPU(),
		GoVersion: runtime.Version(), LoadAverage: load}}
	for _, t := range targets {
		rep.Settings.Servers = append(rep.Settings.Servers, t.Name)
	}
	n := 0
	for r := range o.rounds {
		for _, c := range concs {
			for i := range targets {
				t := targets[(i+r)%len(targets)]
				if !loaded(t.Name, c) {
					continue
				}
				n++
				cell, err := bench.RunCell(ctx, wh.CAPEM, bench.Target{Server: t, Want: want}, mix, bench.CellOptions{
					Concurrency: c, Duration: o.duration, MaxRequests: o.maxRequests, Round: r + 1})
				if err != nil {
					return err
				}
				progress("[%d/%d] round %d  c=%-3d %-16s %6.0f req/s  %6d requests  %d errors  %d mismatches",
					n, total, r+1, c, t.Name, float64(cell.Requests)/cell.Elapsed.Seconds(), cell.Requests,
					cell.Errors, cell.Mismatches)
				rep.Cells = append(rep.Cells, cell)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	names := rep.Settings.Servers
	bench.SortCells(rep.Cells, names)
	rep.Summaries = bench.Summarize(rep.Cells, names, concs)
	if o.output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	} else {
		rep.writeTable(os.Stdout, concs)
	}
	bad := 0
	for _, c := range rep.Cells {
		bad += c.Errors + c.Mismatches
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d", errFailed, bad)
	}
	return nil
}

func (r Report) writeTable(w *os.File, concs []int) {
	s, wh := r.Settings, r.Webhook
	fmt.Fprintf(w, "## In the cluster: mpcguard's webhook Deployment on the real node, behind its Service\n\n")
	fmt.Fprintf(w, "%d webhook pods (%s; requests %s, limits %s), the chart's configuration "+
		"and inventory; the load generator on the host, to the Service's ClusterIP %s (kube-proxy) and to pod %s's IP "+
		"directly. %d rounds; per cell %s or %d requests, whichever first; %d-review mix over TLS, one HTTP/1.1 "+
		"keep-alive connection per client; %d CPUs shared by the load generator, the pods and the control plane; "+
		"load average %s before the run (%s). Server CPU and peak RSS are the pods' processes (for the Service "+
		"both, the peaks summed).\n\n",
		len(wh.Pods), strings.Join(wh.podNames(), ", "), wh.Requests, wh.Limits, wh.ServiceIP, wh.Pods[0].Name,
		s.Rounds, s.Duration, s.MaxRequests, s.Items, s.CPUs, s.LoadAverage, s.GoVersion)
	bench.WriteSummaries(w, r.Summaries)
	fmt.Fprintln(w)
	bench.WriteScaling(w, r.Summaries, s.Servers, concs)
	fmt.Fprintf(w, "\nDecisions: the Service and each pod answered the %d reviews identically when sent once; under "+
		"load %d answers differed from those.\n", s.Items, mismatches(r.Cells))
	var errs []string
	for _, c := range r.Cells {
		errs = append(errs, c.ErrorSamples...)
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nFirst errors:\n")
		for _, e := range errs[:min(len(errs), 5)] {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

func mismatches(cells []bench.Cell) int {
	n := 0
	for _, c := range cells {
		n += c.Mismatches
	}
	return n
}

// verify sends the mix once to the Service and to each pod: every pod must answer as the Service does, and
// those answers are what every answer under load must equal.
func verify(ctx context.Context, wh *Webhook, targets []*bench.Server, mix []bench.Item) ([]bench.Decision, error) {
	ref, err := bench.Verify(ctx, wh.CAPEM, targets[0], mix)
	if err != nil {
		return nil, err
	}
	for _, p := range wh.Pods {
		got, err := bench.Verify(ctx, wh.CAPEM, &bench.Server{Name: p.Name, URL: p.URL, ServerName: wh.ServerName}, mix)
		if err != nil {
			return nil, err
		}
		if ms := bench.Compare(mix, got, ref); len(ms) > 0 {
			return nil, fmt.Errorf("pod %s answers %d of %d reviews unlike the Service, first %s", p.Name, len(ms), len(mix), ms[0])
		}
	}
	differ := 0
	for i, it := range mix {
		if ref[i].Allowed != it.WantAllowed {
			differ++
		}
	}
	progress("==> verification: the Service and %d pods answer the %d reviews identically (%d decided otherwise than "+
		"the local benchmark's configuration means them to be: the chart's configuration and the inventory)",
		len(wh.Pods), len(mix), differ)
	return ref, nil
}

// Webhook is the release's webhook as the load generator reaches it.
type Webhook struct {
	ServiceName string `json:"service"`
	ServiceIP   string `json:"service_ip"`
	ServiceURL  string `json:"service_url"`
	// ServerName is the name its certificate is verified for, as the API server does.
	ServerName string `json:"server_name"`
	CAPEM      []byte `json:"-"`
	Pods       []Pod  `json:"pods"`
	// Requests and Limits are the webhook container's resources.
	Requests string `json:"requests"`
	Limits   string `json:"limits"`
}

// Pod is one Ready webhook pod.
type Pod struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Pids are its mpcguard processes on this machine (found by the pod's cgroup).
	Pids []int `json:"pids"`
}

func (w *Webhook) podNames() []string {
	var out []string
	for _, p := range w.Pods {
		out = append(out, p.Name)
	}
	return out
}

// findWebhook reads the webhook's Service (from the ValidatingWebhookConfiguration, as the API server does), its
// CA (the caBundle the API server trusts) and its Ready pods.
func findWebhook(ctx context.Context, c kubernetes.Interface, ns string) (*Webhook, error) {
	vwcs, err := c.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing ValidatingWebhookConfigurations: %w", err)
	}
	if len(vwcs.Items) != 1 || len(vwcs.Items[0].Webhooks) == 0 || vwcs.Items[0].Webhooks[0].ClientConfig.Service == nil {
		return nil, fmt.Errorf("want one ValidatingWebhookConfiguration calling a Service, found %d", len(vwcs.Items))
	}
	ref := vwcs.Items[0].Webhooks[0].ClientConfig.Service
	svc, err := c.CoreV1().Services(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting Service %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	port, path := int32(443), "/"
	if ref.Port != nil {
		port = *ref.Port
	}
	if ref.Path != nil {
		path = *ref.Path
	}
	wh := &Webhook{ServiceName: ref.Name + "." + ref.Namespace, ServiceIP: svc.Spec.ClusterIP,
		ServiceURL: "https://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port))) + path + "?timeout=10s",
		ServerName: ref.Name + "." + ref.Namespace + ".svc"}
	// What the API server trusts; in the chart's default certificate mode the webhook keeps it current.
	wh.CAPEM = vwcs.Items[0].Webhooks[0].ClientConfig.CABundle
	if len(wh.CAPEM) == 0 {
		return nil, fmt.Errorf("the ValidatingWebhookConfiguration %s has no caBundle yet", vwcs.Items[0].Name)
	}
	sel := metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
	pods, err := c.CoreV1().Pods(ref.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of Service %s: %w", ref.Name, err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || !scenario.PodReady(&p) || !cluster.PodIPReachable(p.Status.PodIP) {
			continue
		}
		ctr := p.Spec.Containers[0]
		if len(ctr.Ports) == 0 {
			return nil, fmt.Errorf("pod %s names no container port", p.Name)
		}
		wh.Requests, wh.Limits = resources(ctr.Resources.Requests), resources(ctr.Resources.Limits)
		pids, err := podProcesses(string(p.UID), "mpcguard")
		if err != nil {
			progress("warning: pod %s's processes not found (%v): its CPU and RSS are not measured", p.Name, err)
		}
		wh.Pods = append(wh.Pods, Pod{Name: p.Name, Pids: pids, URL: "https://" +
			net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(ctr.Ports[0].ContainerPort))) + path + "?timeout=10s"})
	}
	if len(wh.Pods) == 0 {
		return nil, fmt.Errorf("no Ready webhook pod on the real node behind Service %s", ref.Name)
	}
	slices.SortFunc(wh.Pods, func(a, b Pod) int { return strings.Compare(a.Name, b.Name) })
	return wh, nil
}

// standInValues are scenario.StandInValues, with the webhook's CPU limit set when cpuLimit is not empty.
func standInValues(cpuLimit string) (string, error) {
	if cpuLimit == "" {
		return scenario.StandInValues, nil
	}
	q, err := resource.ParseQuantity(cpuLimit)
	if err != nil {
		return "", fmt.Errorf("--webhook-cpu-limit: %w", err)
	}
	var v map[string]any
	if err := yaml.Unmarshal([]byte(scenario.StandInValues), &v); err != nil {
		return "", fmt.Errorf("reading the stand-in values: %w", err)
	}
	node := v
	for _, k := range []string{"mpcguard", "webhook", "resources", "limits"} {
		next, ok := node[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			node[k] = next
		}
		node = next
	}
	node["cpu"] = q.String()
	out, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("writing the values: %w", err)
	}
	return string(out), nil
}

func resources(l corev1.ResourceList) string {
	cpu, mem := l[corev1.ResourceCPU], l[corev1.ResourceMemory]
	return fmt.Sprintf("cpu %s, memory %s", cpu.String(), mem.String())
}

// podProcesses finds the processes named comm whose cgroup path holds the pod's UID (the kubelet names a pod's
// cgroup pod<uid>, with "-" or "_" in the UID depending on the cgroup driver).
func podProcesses(uid, comm string) ([]int, error) {
	forms := []string{uid, strings.ReplaceAll(uid, "-", "_")}
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, fmt.Errorf("listing /proc: %w", err)
	}
	var out []int
	for _, d := range dirs {
		name, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(name)) != comm {
			continue
		}
		cg, err := os.ReadFile(filepath.Join(d, "cgroup"))
		if err != nil || !slices.ContainsFunc(forms, func(f string) bool { return strings.Contains(string(cg), f) }) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			out = append(out, pid)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no process %q in a cgroup of pod %s", comm, uid)
	}
	return out, nil
}
