package audit

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// Metrics are the periodic audit's Prometheus metrics. The violation gauge's labels are bounded: policy ids
// (the policy set's), the audited namespaces and the audited kinds (Kinds).
type Metrics struct {
	// Violations counts, at the last run, the violations (denying and warning policies) by policy id,
	// namespace and kind. A series seen before and clean now reads 0, so a fixed violation is visible.
	Violations *prometheus.GaugeVec
	// LastRun is when the last run finished (Unix seconds), LastDuration how long it took.
	LastRun, LastDuration prometheus.Gauge
	// Runs counts runs by result (ok, error: some lists or reports failed).
	Runs *prometheus.CounterVec
	// Leader is 1 on the replica that holds the audit's Lease, 0 elsewhere.
	Leader prometheus.Gauge

	mu   sync.Mutex
	seen map[[3]string]bool
}

// NewMetrics registers the audit's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpcguard_audit_violations",
			Help: "Violations found by the last audit of existing objects, by policy id, namespace and kind (denying and warning policies).",
		}, []string{"policy", "namespace", "kind"}),
		LastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mpcguard_audit_last_run_timestamp_seconds",
			Help: "When the last audit of existing objects finished, in Unix seconds.",
		}),
		LastDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mpcguard_audit_last_run_duration_seconds",
			Help: "How long the last audit of existing objects took (listing, evaluating, writing reports).",
		}),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpcguard_audit_runs_total",
			Help: "Audits of existing objects by result (ok; error: a list or a report failed).",
		}, []string{"result"}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mpcguard_audit_leader",
			Help: "1 on the webhook replica that holds the audit's Lease and runs the audit, 0 elsewhere.",
		}),
		seen: map[[3]string]bool{},
	}
	reg.MustRegister(m.Violations, m.LastRun, m.LastDuration, m.Runs, m.Leader)
	return m
}

// Observe records a run.
func (m *Metrics) Observe(res Result, finished time.Time, took time.Duration, failed bool) {
	counts := map[[3]string]int{}
	for _, o := range res.Objects {
		for _, list := range [][]engine.Result{o.Deny, o.Warn} {
			for _, r := range list {
				counts[[3]string{r.Policy, o.Namespace, o.Kind}]++
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.seen {
		if _, ok := counts[k]; !ok {
			m.Violations.WithLabelValues(k[0], k[1], k[2]).Set(0)
		}
	}
	for k, n := range counts {
		m.seen[k] = true
		m.Violations.WithLabelValues(k[0], k[1], k[2]).Set(float64(n))
	}
	m.LastRun.Set(float64(finished.Unix()))
	m.LastDuration.Set(took.Seconds())
	result := "ok"
	if failed {
		result = "error"
	}
	m.Runs.WithLabelValues(result).Inc()
}
