package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/test/bench"
	"github.com/mpcguard/mpcguard/test/cluster"
)

// The API server's metrics the report reads.
const (
	webhookDuration = "apiserver_admission_webhook_admission_duration_seconds"
	webhookRejected = "apiserver_admission_webhook_rejection_count"
	webhookFailOpen = "apiserver_admission_webhook_fail_open_count"
	webhookRequests = "apiserver_admission_webhook_request_total"
	pluginDuration  = "apiserver_admission_controller_admission_duration_seconds"
	policyChecks    = "apiserver_validating_admission_policy_check_total"
)

// The mpcguard chart's webhooks that judge the bursts.
const (
	podsHook     = "pods.mpcguard.io"
	sessionsHook = "mpcsessions.mpcguard.io"
)

type options struct {
	replicas, sessions, clients, nodes int
	apiQPS                             int
	readyWithin, timeout               time.Duration
}

func main() {
	var opts options
	flag.IntVar(&opts.replicas, "replicas", 500, "replicas of the party Deployment of each burst")
	flag.IntVar(&opts.sessions, "sessions", 1000, "MPCSessions created in each burst")
	flag.IntVar(&opts.clients, "clients", 32, "concurrent clients creating MPCSessions")
	flag.IntVar(&opts.nodes, "nodes", 4, "fake nodes")
	flag.IntVar(&opts.apiQPS, "controller-qps", 1000, "--kube-api-qps of kube-controller-manager and kube-scheduler (burst: twice that)")
	flag.DurationVar(&opts.readyWithin, "ready-within", 90*time.Second, "how long to wait for a burst's pods to turn Ready before going on")
	flag.DurationVar(&opts.timeout, "timeout", 4*time.Minute+30*time.Second, "bound of the whole run")
	flag.Parse()
	bench.RunProgram("burst", func(ctx context.Context) error { return run(ctx, opts, os.Stdout) })
}

// row is one line of the report.
type row struct {
	mode, objects string
	n             int
	wall          time.Duration
	metric        string  // the API server's admission metric of the row
	p50, p99      float64 // seconds; NaN without observations
	calls         float64 // admission observations in the metric's delta
	plugin        string  // the admission plugin: ValidatingAdmissionWebhook or ValidatingAdmissionPolicy
	pluginP50     float64 // the plugin's latency over every CREATE in the window
	pluginP99     float64
	pluginCalls   float64
	serverFail    int // rejections, fail-opens and errors counted by the API server
	clientFail    int // FailedCreate events, pods never created, failed session creates
	notes         []string
}

func run(ctx context.Context, opts options, out io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	began, loadBefore := time.Now(), bench.LoadAverage()
	if err := cluster.CheckTools(cluster.BinDir(), cluster.ControlPlaneTools...); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "mpcguard-bench-burst-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	bench.Step("building mpcguard (MPCGUARD_BIN overrides)")
	bin, err := cluster.MpcguardBin(ctx, dir)
	if err != nil {
		return err
	}

	qps := []string{"--kube-api-qps=" + strconv.Itoa(opts.apiQPS), "--kube-api-burst=" + strconv.Itoa(2*opts.apiQPS)}
	bench.Step("starting the control plane, %d nodes; kube-controller-manager and kube-scheduler with %v", opts.nodes, qps)
	c, err := cluster.Start(ctx, cluster.Options{Nodes: opts.nodes, Log: os.Stderr,
		ExtraArgs: map[string][]string{"kube-controller-manager": qps, "kube-scheduler": qps}})
	if err != nil {
		return err
	}
	defer func() {
		bench.Step("stopping the control plane")
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the control plane: %w", stopErr))
		}
	}()
	hook, err := install(ctx, c, bin, dir)
	if hook != nil {
		defer func() {
			if stopErr := hook.Stop(); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("stopping the webhook: %w", stopErr))
			}
		}()
	}
	if err != nil {
		return err
	}
	cs, cl, err := clients(c)
	if err != nil {
		return err
	}
	if err := waitEnforced(ctx, cs, "[party-role-required]"); err != nil {
		return err
	}
	configs, hooks, err := webhookNames(ctx, cs)
	if err != nil {
		return err
	}
	bench.Step("mpcguard webhooks %v in %v", hooks, configs)

	p := &probe{cs: cs, hookMetrics: hook.MetricsURL}
	var rows []row
	for _, mode := range []string{"webhook", "vap"} {
		if mode == "vap" {
			if err := switchToPolicy(ctx, cs, configs, hook); err != nil {
				return err
			}
			p.hookMetrics = ""
		}
		r, err := podsRow(ctx, p, mode, opts)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		r, err = sessionsRow(ctx, p, cl, mode, opts)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	report(out, rows, opts, time.Since(began), loadBefore)
	return nil
}

// clients are a clientset and a controller-runtime client (that knows MPCSessions) without a client-side
// rate limit: the API server is what is measured.
func clients(c *cluster.Cluster) (kubernetes.Interface, client.Client, error) {
	cfg := *c.Config
	cfg.QPS, cfg.Burst = -1, 0
	cs, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("clientset for the local cluster: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	cl, err := client.New(&cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("client for the local cluster: %w", err)
	}
	return cs, cl, nil
}

// probe scrapes the API server, and the webhook while it runs.
type probe struct {
	cs          kubernetes.Interface
	hookMetrics string // the webhook's /metrics URL; "" once it is stopped
}

type scrapes struct{ api, hook scrape }

func (p *probe) scrape(ctx context.Context) (scrapes, error) {
	var s scrapes
	var err error
	if s.api, err = scrapeMetrics(ctx, p.cs); err != nil {
		return s, err
	}
	if p.hookMetrics != "" {
		if s.hook, err = scrapeURL(ctx, p.hookMetrics); err != nil {
			return s, err
		}
	}
	return s, nil
}

func podsRow(ctx context.Context, p *probe, mode string, opts options) (row, error) {
	name := "burst-" + mode
	bench.Step("%s: Deployment %s with %d delegate party replicas", mode, name, opts.replicas)
	before, err := p.scrape(ctx)
	if err != nil {
		return row{}, err
	}
	b, err := burstPods(ctx, p.cs, name, opts.replicas, opts.readyWithin)
	if err != nil {
		return row{}, err
	}
	after, err := p.scrape(ctx)
	if err != nil {
		return row{}, err
	}
	r := row{mode: mode, objects: "pods (Deployment)", n: opts.replicas, wall: b.wall,
		clientFail: int(b.failedCreate) + opts.replicas - b.admitted}
	if b.ready > 0 {
		r.notes = append(r.notes, fmt.Sprintf("all %d Ready %s after the Deployment's create", opts.replicas, b.ready.Round(100*time.Millisecond)))
	} else {
		r.notes = append(r.notes, fmt.Sprintf("not all Ready within %s", opts.readyWithin))
	}
	if b.failedCreate > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%d FailedCreate events, e.g. %s", b.failedCreate, b.firstFailure))
	}
	admission(&r, before, after, mode, podsHook)
	return r, nil
}

func sessionsRow(ctx context.Context, p *probe, cl client.Client, mode string, opts options) (row, error) {
	bench.Step("%s: %d MPCSessions from %d clients", mode, opts.sessions, opts.clients)
	before, err := p.scrape(ctx)
	if err != nil {
		return row{}, err
	}
	b, err := burstSessions(ctx, cl, "burst-"+mode, opts.sessions, opts.clients)
	if err != nil {
		return row{}, err
	}
	after, err := p.scrape(ctx)
	if err != nil {
		return row{}, err
	}
	r := row{mode: mode, objects: "MPCSessions", n: opts.sessions, wall: b.wall, clientFail: b.failed,
		notes: []string{fmt.Sprintf("client-side create latency p50 %s, p99 %s", ms(b.p50.Seconds()), ms(b.p99.Seconds()))}}
	if b.firstFailure != nil {
		r.notes = append(r.notes, "first client error: "+b.firstFailure.Error())
	}
	admission(&r, before, after, mode, sessionsHook)
	if mode == "vap" {
		r.notes = append(r.notes, "no policy matches MPCSessions: the plugin only finds that out")
	}
	return r, nil
}

// admission fills the row's admission numbers from the scrapes: in webhook mode the webhook's own histogram
// and counters at the API server, and the webhook process's evaluation histogram and CPU; in vap mode the
// plugin-level histogram (in v1.36 the policy's check_duration_seconds is observed only for denials and
// evaluation errors, so an allowed burst leaves it empty) and the policy's deny and error counters.
func admission(r *row, before, after scrapes, mode, hook string) {
	create := labelsIn("operation", "CREATE")
	plugin := "ValidatingAdmissionWebhook"
	if mode == "vap" {
		plugin = "ValidatingAdmissionPolicy"
	}
	ph := deltaHistogram(before.api, after.api, pluginDuration, all(labelsIn("name", plugin), create))
	r.plugin = plugin
	r.pluginP50, r.pluginP99, r.pluginCalls = ph.quantile(0.5), ph.quantile(0.99), ph.count

	if mode == "vap" {
		r.metric = pluginDuration + `{name="` + plugin + `",operation="CREATE"}, every CREATE in the window`
		r.p50, r.p99, r.calls = r.pluginP50, r.pluginP99, r.pluginCalls
		m := labelsIn("policy", policyName)
		delta := func(m matcher) int { return int(after.api.sum(policyChecks, m) - before.api.sum(policyChecks, m)) }
		denied := delta(all(m, labelsIn("enforcement_action", "deny")))
		errored := delta(m) - delta(all(m, labelsIn("error_type", "no_error")))
		r.serverFail = denied + errored
		r.notes = append(r.notes, fmt.Sprintf("%s: %d denied, %d evaluation errors (%s)", policyName, denied, errored, policyChecks))
		return
	}
	m := labelsIn("name", hook)
	h := deltaHistogram(before.api, after.api, webhookDuration, all(m, create))
	r.metric = webhookDuration + `{name="` + hook + `",operation="CREATE"}`
	r.p50, r.p99, r.calls = h.quantile(0.5), h.quantile(0.99), h.count
	delta := func(name string, m matcher) int { return int(after.api.sum(name, m) - before.api.sum(name, m)) }
	rejected := delta(webhookRejected, m)
	failOpen := delta(webhookFailOpen, m)
	non200 := delta(webhookRequests, m) - delta(webhookRequests, all(m, labelsIn("code", "200")))
	denied := delta(webhookRequests, all(m, labelsIn("rejected", "true")))
	// A call that did not end in an allow is a rejection (a denial, or an error under failurePolicy Fail) or a
	// fail-open; non-200 answers and denials are shown apart.
	r.serverFail = rejected + failOpen
	r.notes = append(r.notes, fmt.Sprintf("%s: %d calls, %d rejections, %d fail-open, %d non-200, %d denied",
		hook, delta(webhookRequests, m), rejected, failOpen, non200, denied))
	if after.hook != nil {
		eh := deltaHistogram(before.hook, after.hook, "mpcguard_evaluation_duration_seconds", func(map[string]string) bool { return true })
		cpu := after.hook.sum("process_cpu_seconds_total", func(map[string]string) bool { return true }) -
			before.hook.sum("process_cpu_seconds_total", func(map[string]string) bool { return true })
		r.notes = append(r.notes, fmt.Sprintf("inside the webhook: policy evaluation p50 %s, p99 %s over %.0f reviews; "+
			"the process used %.2fs of CPU (inventory events included)", ms(eh.quantile(0.5)), ms(eh.quantile(0.99)), eh.count, cpu))
	}
}

func report(out io.Writer, rows []row, opts options, took time.Duration, loadBefore string) {
	fmt.Fprintf(out, "\nburst through kube-apiserver v1.36 (local control plane, %d KWOK nodes; run took %s; load average "+
		"of the 2 cores %s at the start, %s at the end)\n", opts.nodes, took.Round(time.Second), loadBefore, bench.LoadAverage())
	fmt.Fprintf(out, "%-8s  %-18s  %6s  %8s  %9s  %9s  %9s  %6s  %8s\n",
		"mode", "objects", "count", "wall", "objects/s", "adm. p50", "adm. p99", "calls", "failures")
	for _, r := range rows {
		fmt.Fprintf(out, "%-8s  %-18s  %6d  %8s  %9.0f  %9s  %9s  %6.0f  %8d\n", r.mode, r.objects, r.n,
			r.wall.Round(10*time.Millisecond), float64(r.n)/r.wall.Seconds(), ms(r.p50), ms(r.p99), r.calls,
			r.serverFail+r.clientFail)
	}
	fmt.Fprintln(out, "\nthe same admission plugin metric in both modes, over every CREATE in the window (pods, bindings, events...):")
	fmt.Fprintf(out, "%-8s  %-18s  %-26s  %9s  %9s  %6s\n", "mode", "objects", "plugin", "p50", "p99", "calls")
	for _, r := range rows {
		fmt.Fprintf(out, "%-8s  %-18s  %-26s  %9s  %9s  %6.0f\n", r.mode, r.objects, r.plugin, ms(r.pluginP50), ms(r.pluginP99), r.pluginCalls)
	}
	fmt.Fprintln(out, "\nadm. p50/p99: histogram_quantile over the delta of the API server's histogram between scrapes, of")
	for _, r := range rows {
		fmt.Fprintf(out, "  %-7s %-18s %s\n", r.mode, r.objects, r.metric)
		for _, n := range r.notes {
			fmt.Fprintf(out, "  %-7s %-18s   %s\n", "", "", n)
		}
	}
	fmt.Fprintln(out, "  buckets (s): webhook 0.005 0.025 0.1 0.5 1 2.5 10 25; plugin 0.005 0.025 0.1 0.5 1 2.5: a quantile in the")
	fmt.Fprintln(out, "  first bucket is an interpolation from 0 (it says < 5ms, no more).")
	fmt.Fprintln(out, "failures: the API server's webhook rejections (denials and errors) and fail-opens, or the policy's denials and")
	fmt.Fprintln(out, "  CEL errors; FailedCreate events and pods never created; failed client creates.")
}

// ms formats seconds as milliseconds; "—" for NaN.
func ms(s float64) string {
	if math.IsNaN(s) {
		return "—"
	}
	if s < 0.001 {
		return fmt.Sprintf("%.0fµs", s*1e6)
	}
	return fmt.Sprintf("%.2fms", s*1000)
}
