package webhook

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// Defaults of the decision log's bound: a burst of 100 lines, then 20 lines a second; what exceeds it is
// counted and reported every 10 seconds.
const (
	DefaultDecisionLogBurst    = 100
	DefaultDecisionLogRate     = 20
	DefaultDecisionLogInterval = 10 * time.Second
)

// DecisionLogOptions bound the decision log. Zero values take the defaults.
type DecisionLogOptions struct {
	// Burst is how many decision lines may be written at once (the token bucket's size).
	Burst int
	// Rate is how many decision lines a second may be written once the burst is spent.
	Rate float64
	// Interval is how often the count of suppressed lines is logged, when it is not zero.
	Interval time.Duration
}

func (o DecisionLogOptions) withDefaults() DecisionLogOptions {
	if o.Burst <= 0 {
		o.Burst = DefaultDecisionLogBurst
	}
	if o.Rate <= 0 {
		o.Rate = DefaultDecisionLogRate
	}
	if o.Interval <= 0 {
		o.Interval = DefaultDecisionLogInterval
	}
	return o
}

// DecisionLog writes one structured line per admission request that is denied or warned about (skipped checks
// are warnings), at info level. Every value is a key/value of the structured logger — never spliced into the
// message — so a name or username carrying a newline or a quote stays inside its own field of one record.
// A token bucket bounds the lines: beyond it they are dropped and counted, the count goes to the
// mpcguard_decision_logs_suppressed_total counter at once and into one log line per interval.
// Allowed requests without warnings are logged only at debug level (V(1)), outside the bound.
type DecisionLog struct {
	log        logr.Logger
	opts       DecisionLogOptions
	bucket     tokenBucket
	suppressed atomic.Uint64 // since the last report
	lastFlush  atomic.Int64  // unix nanoseconds
	counter    prometheus.Counter
}

// NewDecisionLog returns a decision log writing to log; suppressed counts the lines it drops (nil: not counted).
func NewDecisionLog(log logr.Logger, opts DecisionLogOptions, suppressed prometheus.Counter) *DecisionLog {
	opts = opts.withDefaults()
	l := &DecisionLog{log: log, opts: opts, counter: suppressed,
		bucket: tokenBucket{burst: float64(opts.Burst), rate: opts.Rate, tokens: float64(opts.Burst), now: time.Now}}
	l.lastFlush.Store(time.Now().UnixNano())
	return l
}

// Record logs the decision on req: one line if something was denied or warned about, within the bound.
func (l *DecisionLog) Record(req *engine.Request, uid string, d engine.Decision) {
	if l == nil {
		return
	}
	if d.Allowed() && len(d.Warn)+len(d.Skipped) == 0 {
		if v := l.log.V(1); v.Enabled() {
			v.Info("admission allowed", append([]any{"decision", "allow"}, requestFields(req, uid)...)...)
		}
		return
	}
	if !l.log.Enabled() {
		return // --log-level=error: nothing to write, nothing suppressed
	}
	if !l.bucket.take() {
		l.suppressed.Add(1)
		if l.counter != nil {
			l.counter.Inc()
		}
		return
	}
	if !d.Allowed() {
		kv := append([]any{"decision", "deny", "policies", policyIDs(d.Deny)}, requestFields(req, uid)...)
		kv = append(kv, "messages", messages(d.Deny))
		if w := append(append([]engine.Result(nil), d.Warn...), d.Skipped...); len(w) > 0 {
			// A denied request's warnings travel on the same line: one line per request.
			kv = append(kv, "warnPolicies", policyIDs(w), "warnings", messages(w))
		}
		l.log.Info("admission denied", kv...)
		return
	}
	w := append(append([]engine.Result(nil), d.Warn...), d.Skipped...)
	kv := append([]any{"decision", "warn", "policies", policyIDs(w)}, requestFields(req, uid)...)
	l.log.Info("admission warning", append(kv, "messages", messages(w))...)
}

// requestFields are the request's identity, each its own structured value.
func requestFields(req *engine.Request, uid string) []any {
	user := ""
	if req.User != nil {
		user = req.User.Username
	}
	return []any{"kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name,
		"operation", string(req.Operation), "subresource", req.Subresource, "user", user,
		"dryRun", req.DryRun, "uid", uid}
}

func policyIDs(rs []engine.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Policy
	}
	return out
}

func messages(rs []engine.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Message
	}
	return out
}

// Flush logs how many lines were suppressed since the last flush, if any, and returns that count.
func (l *DecisionLog) Flush() uint64 {
	if l == nil {
		return 0
	}
	now := time.Now()
	since := time.Duration(now.UnixNano() - l.lastFlush.Swap(now.UnixNano())).Round(time.Second)
	n := l.suppressed.Swap(0)
	if n > 0 {
		l.log.Info(fmt.Sprintf("suppressed %d decision log lines in the last %s", n, since),
			"suppressed", n, "interval", since.String(), "burst", l.opts.Burst, "rate", l.opts.Rate)
	}
	return n
}

// Run flushes the suppressed count every interval until ctx ends, and once more then.
func (l *DecisionLog) Run(ctx context.Context) {
	if l == nil {
		return
	}
	t := time.NewTicker(l.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.Flush()
			return
		case <-t.C:
			l.Flush()
		}
	}
}

// tokenBucket holds up to burst tokens and gains rate tokens a second; each line takes one.
type tokenBucket struct {
	mu                  sync.Mutex
	burst, rate, tokens float64
	last                time.Time
	now                 func() time.Time
}

func (b *tokenBucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if !b.last.IsZero() {
		if dt := now.Sub(b.last).Seconds(); dt > 0 {
			b.tokens = min(b.burst, b.tokens+dt*b.rate)
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
