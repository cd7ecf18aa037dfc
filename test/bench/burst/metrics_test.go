package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const before = `# HELP apiserver_admission_webhook_admission_duration_seconds [STABLE] Admission webhook latency
# TYPE apiserver_admission_webhook_admission_duration_seconds histogram
apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating",le="0.005"} 5
apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating",le="0.025"} 5
apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating",le="0.1"} 5
apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating",le="+Inf"} 5
apiserver_admission_webhook_admission_duration_seconds_count{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating"} 5
apiserver_admission_webhook_admission_duration_seconds_sum{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating"} 0.01
apiserver_admission_webhook_rejection_count{error_type="no_error",name="pods.mpcguard.io",operation="CREATE",rejection_code="403",type="validating"} 1
`

const after = `apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating",le="0.005"} 15
apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating",le="0.025"} 95
apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating",le="0.1"} 105
apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating",le="+Inf"} 105
apiserver_admission_webhook_admission_duration_seconds_count{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating"} 105
apiserver_admission_webhook_admission_duration_seconds_sum{name="pods.mpcguard.io",operation="CREATE",rejected="false",type="validating"} 1.51
apiserver_admission_webhook_admission_duration_seconds_bucket{name="other.example.com",operation="CREATE",rejected="false",type="validating",le="+Inf"} 7
apiserver_admission_webhook_rejection_count{error_type="no_error",name="pods.mpcguard.io",operation="CREATE",rejection_code="403",type="validating"} 1
odd_label_values{a="x\"y,z}",b="\\"} 3 1700000000000
`

func TestHistogramQuantileOnTheDeltaBetweenScrapes(t *testing.T) {
	b, err := parseText(before)
	require.NoError(t, err)
	a, err := parseText(after)
	require.NoError(t, err)
	m := all(labelsIn("name", "pods.mpcguard.io"), labelsIn("operation", "CREATE"))
	h := deltaHistogram(b, a, webhookDuration, m)
	assert.InDelta(t, 100, h.count, 1e-9)
	assert.InDelta(t, 1.5, h.sum, 1e-9)
	// PromQL: rank 50 falls in (0.005, 0.025] holding ranks 10..90 -> 0.005 + 0.02*40/80.
	assert.InDelta(t, 0.015, h.quantile(0.5), 1e-12)
	// rank 99 falls in (0.025, 0.1] holding ranks 90..100 -> 0.025 + 0.075*9/10.
	assert.InDelta(t, 0.0925, h.quantile(0.99), 1e-12)
	// rank 5 falls in the first bucket, interpolated from 0.
	assert.InDelta(t, 0.0025, h.quantile(0.05), 1e-12)
	assert.Zero(t, a.sum(webhookRejected, labelsIn("name", "pods.mpcguard.io"))-b.sum(webhookRejected, labelsIn("name", "pods.mpcguard.io")))

	odd := a.sum("odd_label_values", labelsIn("a", `x"y,z}`))
	assert.InDelta(t, 3, odd, 1e-9, "escaped quotes, commas and braces in label values; a timestamp after the value")
	assert.InDelta(t, 3, a.sum("odd_label_values", labelsIn("b", `\`)), 1e-9)

	assert.True(t, math.IsNaN(deltaHistogram(b, a, webhookDuration, labelsIn("name", "nobody")).quantile(0.5)))
}

func TestHistogramQuantileInTheInfBucketIsTheHighestBound(t *testing.T) {
	h := histogram{buckets: map[float64]float64{0.1: 1, 1: 2, math.Inf(1): 10}}
	assert.InDelta(t, 1, h.quantile(0.99), 1e-12)
}
