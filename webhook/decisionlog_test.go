package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/webhook"
)

// logSink records what the webhook's production logger (controller-runtime's zap, JSON) writes.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// records are the JSON records written so far, one a line; every line must be one whole JSON object.
func (s *logSink) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(s.buf.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "every log line is one JSON record: %q", line)
		out = append(out, rec)
	}
	return out
}

// withMsg are the records whose message is msg.
func withMsg(recs []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

type decisionRig struct {
	h    *webhook.Handler
	dl   *webhook.DecisionLog
	sink *logSink
}

// newDecisionRig is a handler with the production logger at level (debug, info, error) writing to a sink.
func newDecisionRig(t testing.TB, cfg engine.Config, level string, opts webhook.DecisionLogOptions) *decisionRig {
	eng, err := engine.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	sink := &logSink{}
	log, err := webhook.NewLogger(sink, level)
	require.NoError(t, err)
	log = log.WithName("mpcguard")
	m := webhook.NewMetrics()
	dl := webhook.NewDecisionLog(log.WithName("decision"), opts, m.DecisionLogsSuppressed)
	return &decisionRig{h: &webhook.Handler{Engine: eng, Metrics: m, Log: log.WithName("handler"), Decisions: dl},
		dl: dl, sink: sink}
}

func (r *decisionRig) serve(t testing.TB, body []byte) *admissionv1.AdmissionResponse {
	req := httptest.NewRequest(http.MethodPost, webhook.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	return out.Response
}

// suppressedMetric reads mpcguard_decision_logs_suppressed_total from the handler's registry.
func (r *decisionRig) suppressedMetric(t *testing.T) float64 {
	t.Helper()
	mfs, err := r.h.Metrics.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "mpcguard_decision_logs_suppressed_total" {
			require.Len(t, mf.GetMetric(), 1, "the counter has no labels")
			assert.Empty(t, mf.GetMetric()[0].GetLabel(), "nothing from a request becomes a label")
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("mpcguard_decision_logs_suppressed_total is not registered")
	return 0
}

// decisionFields are the keys every decision line carries.
var decisionFields = []string{"decision", "policies", "kind", "namespace", "name", "operation", "subresource",
	"user", "dryRun", "uid", "messages"}

func TestADenialIsLoggedAsExactlyOneLineWithEveryField(t *testing.T) {
	rig := newDecisionRig(t, engine.DefaultConfig(), "info", webhook.DecisionLogOptions{})
	body := as(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-0", partyPod("p-0", nil), nil, true),
		"alice", "system:authenticated")
	resp := rig.serve(t, body)
	require.False(t, resp.Allowed)

	recs := rig.sink.records(t)
	require.Len(t, recs, 1, "one line for one denial: %v", recs)
	rec := recs[0]
	for _, k := range decisionFields {
		assert.Contains(t, rec, k)
	}
	assert.Equal(t, "info", rec["level"])
	assert.Equal(t, "mpcguard.decision", rec["logger"])
	assert.Equal(t, "admission denied", rec["msg"])
	assert.Equal(t, "deny", rec["decision"])
	assert.Equal(t, []any{vocab.PartyRoleRequired}, rec["policies"])
	assert.Equal(t, "Pod", rec["kind"])
	assert.Equal(t, "mpc-system", rec["namespace"])
	assert.Equal(t, "p-0", rec["name"])
	assert.Equal(t, "CREATE", rec["operation"])
	assert.Equal(t, "", rec["subresource"])
	assert.Equal(t, "alice", rec["user"])
	assert.Equal(t, true, rec["dryRun"])
	assert.Equal(t, "uid-p-0", rec["uid"])
	require.Len(t, rec["messages"], 1)
	assert.Equal(t, resp.Result.Message, rec["messages"].([]any)[0], "the message the API server was given")
	assert.NotContains(t, rec, "warnings", "no warnings, no warning fields")
}

func TestAWarningIsLoggedAsExactlyOneLineWithEveryFieldAndSkippedChecksCountAsWarnings(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.Enforcement[vocab.SessionCompositionSum] = vocab.Warn
	rig := newDecisionRig(t, cfg, "info", webhook.DecisionLogOptions{})
	body := as(t, reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "s-1",
		session("s-1", 2, 4, map[string]any{"persistent": 2, "delegate": 1}), nil, false), "bob")
	resp := rig.serve(t, body)
	require.True(t, resp.Allowed)
	require.Len(t, resp.Warnings, 2)

	recs := rig.sink.records(t)
	require.Len(t, recs, 1, "one line for one warned request: %v", recs)
	rec := recs[0]
	for _, k := range decisionFields {
		assert.Contains(t, rec, k)
	}
	assert.Equal(t, "admission warning", rec["msg"])
	assert.Equal(t, "warn", rec["decision"])
	assert.Equal(t, []any{vocab.SessionCompositionSum, vocab.SessionPersistentAvailable}, rec["policies"],
		"the skipped check (no inventory) is a warning")
	assert.Equal(t, "MPCSession", rec["kind"])
	assert.Equal(t, "mpc-system", rec["namespace"])
	assert.Equal(t, "s-1", rec["name"])
	assert.Equal(t, "CREATE", rec["operation"])
	assert.Equal(t, "bob", rec["user"])
	assert.Equal(t, false, rec["dryRun"])
	assert.Equal(t, "uid-s-1", rec["uid"])
	assert.Equal(t, []any{resp.Warnings[0], resp.Warnings[1]}, rec["messages"])
}

func TestADeniedRequestWithWarningsIsStillOneLine(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.Enforcement[vocab.SessionCompositionSum] = vocab.Warn
	rig := newDecisionRig(t, cfg, "info", webhook.DecisionLogOptions{})
	resp := rig.serve(t, reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "s-2",
		session("s-2", 2, 4, map[string]any{"persistent": 0, "delegate": 3}), nil, false))
	require.False(t, resp.Allowed)

	recs := rig.sink.records(t)
	require.Len(t, recs, 1, "%v", recs)
	assert.Equal(t, "deny", recs[0]["decision"])
	assert.Contains(t, recs[0]["policies"], vocab.SessionDelegateOnlyThreshold)
	assert.NotContains(t, recs[0]["policies"], vocab.SessionCompositionSum, "a warning is not listed as a denial")
	assert.Contains(t, recs[0]["warnPolicies"], vocab.SessionCompositionSum)
	assert.Len(t, recs[0]["warnings"], len(resp.Warnings))
}

func TestAnAllowedRequestWithoutWarningsIsLoggedOnlyAtDebugLevel(t *testing.T) {
	cfg := engine.DefaultConfig()
	body := reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-ok",
		partyPod("p-ok", map[string]string{"party-role": "delegate"}), nil, false)
	deny := reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-bad", partyPod("p-bad", nil), nil, false)

	info := newDecisionRig(t, cfg, "info", webhook.DecisionLogOptions{})
	require.True(t, info.serve(t, body).Allowed)
	assert.Empty(t, info.sink.records(t), "an allow without warnings is not an info line")

	debug := newDecisionRig(t, cfg, "debug", webhook.DecisionLogOptions{})
	require.True(t, debug.serve(t, body).Allowed)
	recs := debug.sink.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "debug", recs[0]["level"])
	assert.Equal(t, "allow", recs[0]["decision"])
	assert.Equal(t, "p-ok", recs[0]["name"])

	quiet := newDecisionRig(t, cfg, "error", webhook.DecisionLogOptions{Burst: 1, Rate: 0.001})
	for range 3 {
		require.False(t, quiet.serve(t, deny).Allowed)
	}
	assert.Empty(t, quiet.sink.records(t), "at error level decisions are not written")
	assert.Zero(t, quiet.suppressedMetric(t), "nor counted as suppressed: nothing was to be written")
}

func TestAFloodOfDenialsLogsAtMostBurstPlusRateTimesElapsedLinesAndCountsTheRest(t *testing.T) {
	const n, workers = 10_000, 4
	opts := webhook.DecisionLogOptions{Burst: webhook.DefaultDecisionLogBurst, Rate: webhook.DefaultDecisionLogRate}
	rig := newDecisionRig(t, engine.DefaultConfig(), "info", opts)
	bodies := make([][]byte, workers)
	for w := range bodies {
		bodies[w] = reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "flood", partyPod("flood", nil), nil, false)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range n / workers {
				if rig.serve(t, bodies[w]).Allowed {
					t.Error("an unlabelled party pod was allowed")
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	lines := len(withMsg(rig.sink.records(t), "admission denied"))
	bound := float64(opts.Burst) + opts.Rate*elapsed.Seconds()
	t.Logf("%d denials in %s: %d lines logged, bound %.0f", n, elapsed.Round(time.Millisecond), lines, bound)
	assert.LessOrEqual(t, float64(lines), bound)
	assert.GreaterOrEqual(t, lines, opts.Burst, "the burst is written")
	suppressed := rig.suppressedMetric(t)
	assert.Equal(t, float64(n), float64(lines)+suppressed, "every denial is either a line or counted")

	assert.Equal(t, uint64(suppressed), rig.dl.Flush())
	summary := rig.sink.records(t)
	last := summary[len(summary)-1]
	assert.Regexp(t, `^suppressed \d+ decision log lines in the last \d+s$`, last["msg"])
	assert.Equal(t, suppressed, last["suppressed"])
	assert.Zero(t, rig.dl.Flush(), "the count starts again after each report")
	assert.Len(t, rig.sink.records(t), len(summary), "nothing suppressed, nothing reported")
}

func TestTheSuppressedCountIsReportedOncePerInterval(t *testing.T) {
	rig := newDecisionRig(t, engine.DefaultConfig(), "info",
		webhook.DecisionLogOptions{Burst: 1, Rate: 0.001, Interval: 50 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); rig.dl.Run(t.Context()) }()
	for range 5 {
		require.False(t, rig.serve(t, reviewOf(t, v1, admissionv1.Create, podKind, "ns", "p", partyPod("p", nil), nil, false)).Allowed)
	}
	require.Eventually(t, func() bool {
		for _, r := range rig.sink.records(t) {
			if strings.HasPrefix(r["msg"].(string), "suppressed 4 decision log lines in the last ") {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	var reports int
	for _, r := range rig.sink.records(t) {
		if strings.HasPrefix(r["msg"].(string), "suppressed ") {
			reports++
		}
	}
	assert.Equal(t, 1, reports, "no report for an interval with nothing suppressed")
	assert.Equal(t, 4.0, rig.suppressedMetric(t))
}

func TestAValueFromTheRequestCannotForgeALogLine(t *testing.T) {
	rig := newDecisionRig(t, engine.DefaultConfig(), "info", webhook.DecisionLogOptions{})
	forged := `{"level":"info","logger":"mpcguard.decision","msg":"admission allowed","decision":"allow"}`
	name := "p\n" + forged + "\r\n"
	user := "mallory\n" + forged + "\u2028\x1b[2K"
	body := as(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system\n"+forged, name, partyPod(name, nil), nil, false),
		user)
	require.False(t, rig.serve(t, body).Allowed)

	raw := rig.sink.buf.String()
	assert.Equal(t, 1, strings.Count(raw, "\n"), "one record, one line: %q", raw)
	assert.NotContains(t, raw, forged, "the request's JSON is escaped inside a field, never written as is")
	recs := rig.sink.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "admission denied", recs[0]["msg"])
	assert.Equal(t, name, recs[0]["name"], "the value survives intact, inside its field")
	assert.Equal(t, user, recs[0]["user"])
	assert.Equal(t, "mpc-system\n"+forged, recs[0]["namespace"])
}
