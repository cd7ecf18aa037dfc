package webhook

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// Metrics are the webhook's Prometheus metrics.
type Metrics struct {
	Registry *prometheus.Registry
	// Decisions counts policy outcomes by policy id and result (deny, warn, skipped).
	Decisions *prometheus.CounterVec
	// Requests counts admission requests by kind and result (allowed, denied, error, invalid).
	Requests *prometheus.CounterVec
	// Errors counts evaluation failures by reason (eval, deadline).
	Errors *prometheus.CounterVec
	// Latency is the policy evaluation latency.
	Latency prometheus.Histogram
	// DecisionLogsSuppressed counts decision log lines dropped by the decision log's bound.
	DecisionLogsSuppressed prometheus.Counter
}

// NewMetrics registers the metrics on a fresh registry, with Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpcguard_policy_decisions_total",
			Help: "Policy outcomes by policy id and result (deny, warn, skipped).",
		}, []string{"policy", "result"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpcguard_admission_requests_total",
			Help: "Admission requests by kind and result (allowed, denied, error, invalid).",
		}, []string{"kind", "result"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpcguard_evaluation_errors_total",
			Help: "Policy evaluations that failed, by reason (eval, deadline); answered as errors, never as allows.",
		}, []string{"reason"}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mpcguard_evaluation_duration_seconds",
			Help:    "Policy evaluation latency per admission request.",
			Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 0.25, 1},
		}),
		DecisionLogsSuppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mpcguard_decision_logs_suppressed_total",
			Help: "Decision log lines (denials and warnings) not written because they exceeded the log's rate bound.",
		}),
	}
	m.Registry.MustRegister(m.Decisions, m.Requests, m.Errors, m.Latency, m.DecisionLogsSuppressed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// The label values of the counters, besides policy ids and kinds: every series the handler can increment is
// one of these combinations, so Initialize can create them all.
var (
	decisionResults = []string{"deny", "warn", "skipped"}
	// unknownPolicy labels a result whose policy id the engine does not define (never a string from a request).
	unknownPolicy  = "unknown"
	requestResults = []string{"allowed", "denied", "error", "invalid"}
	errorReasons   = []string{"eval", "deadline", "panic"}
)

// Initialize creates every series of the labelled counters at 0: each policy id (and "unknown") with each
// decision result, each kind label (the reviewed kinds, "other", "unknown") with each request result, each
// evaluation error reason. A series that appears only with its first increment makes rate() and increase()
// miss that increment and leaves an alert such as `increase(mpcguard_evaluation_errors_total[5m]) > 0` or a
// dashboard's per-policy panel with nothing to read until something has already gone wrong.
func (m *Metrics) Initialize(policyIDs []string) {
	for _, id := range append(slices.Clone(policyIDs), unknownPolicy) {
		for _, r := range decisionResults {
			m.Decisions.WithLabelValues(id, r)
		}
	}
	for _, kind := range requestKinds() {
		for _, r := range requestResults {
			m.Requests.WithLabelValues(kind, r)
		}
	}
	for _, r := range errorReasons {
		m.Errors.WithLabelValues(r)
	}
}

// ObserveCache exports the engine's memoised decisions (policies/engine/memo.go) as
// mpcguard_decision_cache_hits_total and mpcguard_decision_cache_misses_total, read from stats at each scrape.
func (m *Metrics) ObserveCache(stats func() engine.CacheStats) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mpcguard_decision_cache_hits_total",
			Help: "Reviews answered from a memoised evaluation of the same policy input (the fields the policies read).",
		}, func() float64 { return float64(stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mpcguard_decision_cache_misses_total",
			Help: "Reviews whose policy input was evaluated (and memoised) because the memo did not hold it.",
		}, func() float64 { return float64(stats().Misses) }),
	)
}
