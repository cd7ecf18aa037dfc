package webhook_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// counted returns the series of the metric that are above 0 in a scrape: every labelled counter exists from
// start-up (Metrics.Initialize), so "nothing counted" means every series is 0, not that none exists.
func counted(scrape, metric string) []string {
	var out []string
	for line := range strings.Lines(scrape) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		if v := line[strings.LastIndexByte(line, ' ')+1:]; v != "0" {
			out = append(out, line)
		}
	}
	return out
}

func TestEveryCounterSeriesExistsAtZeroFromStartUp(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	m := ts.scrape(t) // before any request
	for _, id := range vocab.PolicyIDs() {
		for _, result := range []string{"deny", "warn", "skipped"} {
			assert.Contains(t, m, fmt.Sprintf("mpcguard_policy_decisions_total{policy=%q,result=%q} 0\n", id, result))
		}
	}
	for _, kind := range []string{"Pod", "StatefulSet", "MPCSession", "PersistentVolumeClaim", "Scale", "other", "unknown"} {
		for _, result := range []string{"allowed", "denied", "error", "invalid"} {
			assert.Contains(t, m, fmt.Sprintf("mpcguard_admission_requests_total{kind=%q,result=%q} 0\n", kind, result))
		}
	}
	for _, reason := range []string{"eval", "deadline", "panic"} {
		assert.Contains(t, m, fmt.Sprintf("mpcguard_evaluation_errors_total{reason=%q} 0\n", reason))
	}
	assert.Contains(t, m, "\nmpcguard_decision_logs_suppressed_total 0\n")
	assert.Empty(t, counted(m, "mpcguard_policy_decisions_total"))
	assert.Empty(t, counted(m, "mpcguard_admission_requests_total"))
}
