package bench_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/test/bench"
	"github.com/mpcguard/mpcguard/test/cluster"
)

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestWrapperIsFaithful starts every server, sends every review of the mix and the edge cases once to each,
// and holds both OPA set-ups' answers (the wrapper and the rules written against input.request) and those of
// mpcguard without its decision cache (--decision-cache-size=0) to mpcguard's: the same allowed, denial messages
// and warnings on every review. The no-op and the floor allow everything. A short load run on each server then answers with no error and no mismatch.
// It runs with the benchmark's configuration (the defaults), where every review built to break a policy must
// be denied by exactly the policies it was built to break; and with share storage and the persistent pool
// named, a policy in warn mode and one off, which the defaults leave unexercised.
func TestWrapperIsFaithful(t *testing.T) {
	for name, tc := range map[string]struct {
		policy bench.Policy
		// check is what this configuration's decisions must show beyond OPA agreeing with mpcguard.
		check func(t *testing.T, items []bench.Item, d []bench.Decision)
	}{
		"with the default configuration, as the benchmark runs": {
			check: func(t *testing.T, items []bench.Item, d []bench.Decision) {
				var warned, multiDenied bool
				for i, it := range items {
					assert.Equal(t, it.WantAllowed, d[i].Allowed, "mpcguard on %q: %s", it.Name, d[i])
					assert.Equal(t, it.WantDenied, deniedBy(d[i]), "the policies denying %q: %s", it.Name, d[i])
					warned = warned || len(d[i].Warnings) > 0
					multiDenied = multiDenied || len(d[i].Denials) > 1
				}
				assert.True(t, warned, "no review got a warning: the comparison of warnings is vacuous")
				assert.True(t, multiDenied, "no review got several denials: the joining of messages is untested")
				for _, want := range []string{"[party-access] Pod mpc-system/mpc-party-persistent-0 (exec): not checked",
					"[party-access] Pod mpc-system/mpc-party-persistent-0 (proxy): not checked",
					"[session-persistent-available] MPCSession mpc-system/sign-41: not checked"} {
					assert.True(t, mentions(d, false, want), "no warning starts with %q: skipped checks are not exercised", want)
				}
			},
		},
		"with share storage and the persistent pool named, a policy in warn mode and one off": {
			policy: bench.Policy{ShareSecretNames: []string{"mpc-db", "mpc-db-2", "mpc-db-csi", "mpc-db-azure"},
				ShareClaimPrefixes: []string{"share-data-mpc-party-persistent-"}, PersistentWorkloads: []string{"mpc-party-persistent"},
				Enforcement: "session-composition-sum=warn,party-access=off"},
			check: func(t *testing.T, items []bench.Item, d []bench.Decision) {
				for _, want := range []string{"[delegate-no-share-storage] Pod ", "[delegate-no-share-storage] StatefulSet ",
					"[share-storage-copy] Pod ", "[share-storage-copy] StatefulSet ", "[share-storage-copy] PersistentVolumeClaim ",
					"[share-storage-copy] VolumeSnapshot ", "[share-storage-persistent-only] Pod ",
					"[party-persistent-origin] StatefulSet mpc-system/mpc-party-persistent-copy: "} {
					assert.True(t, mentions(d, true, want), "no denial starts with %q: share storage is not exercised", want)
				}
				for _, want := range []string{"PersistentVolumeClaim share-data-mpc-party-persistent-", "Secret mpc-db, Secret mpc-db-2",
					"Secret mpc-db, Secret mpc-db-2, Secret mpc-db-azure, Secret mpc-db-csi", "hostPath /var/lib/mpc"} {
					assert.True(t, slices.ContainsFunc(d, func(x bench.Decision) bool {
						return slices.ContainsFunc(x.Denials, func(m string) bool { return strings.Contains(m, want) })
					}), "no denial mentions %q: share storage is not exercised", want)
				}
				assert.True(t, mentions(d, false, "[session-composition-sum]"), "no warn-mode warning")
				assert.False(t, mentions(d, true, "[party-access]") || mentions(d, false, "[party-access]"),
					"party-access is off: neither its denial nor its skipped check may show")
			},
		},
	} {
		t.Run(name, func(t *testing.T) { testFaithful(t, tc.policy, tc.check) })
	}
}

// deniedBy is the sorted ids of the policies whose messages deny d ("[id] ..."), without repeats.
func deniedBy(d bench.Decision) []string {
	var ids []string
	for _, m := range d.Denials {
		if id, _, ok := strings.Cut(strings.TrimPrefix(m, "["), "]"); ok && strings.HasPrefix(m, "[") {
			ids = append(ids, id)
		} else {
			ids = append(ids, m)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(ids)))
}

// mentions reports whether a denial (or, with denials false, a warning) of some decision starts with prefix.
func mentions(d []bench.Decision, denials bool, prefix string) bool {
	return slices.ContainsFunc(d, func(x bench.Decision) bool {
		msgs := x.Warnings
		if denials {
			msgs = x.Denials
		}
		return slices.ContainsFunc(msgs, func(m string) bool { return strings.HasPrefix(m, prefix) })
	})
}

func testFaithful(t *testing.T, pol bench.Policy, check func(*testing.T, []bench.Item, []bench.Decision)) {
	srvs, err := bench.Start(t.Context(), bench.Options{Dir: t.TempDir(), Policy: pol, Progress: logWriter{t}})
	require.NoError(t, err)
	t.Cleanup(cluster.StopOnInterrupt(srvs))
	t.Cleanup(func() { assert.NoError(t, srvs.Stop()) })

	mix, err := bench.Mix()
	require.NoError(t, err)
	edge, err := bench.EdgeCases()
	require.NoError(t, err)
	items := append(append([]bench.Item{}, mix...), edge...)

	got := map[string][]bench.Decision{}
	for _, s := range srvs.List {
		got[s.Name], err = bench.Verify(t.Context(), srvs.CAPEM, s, items)
		require.NoError(t, err)
	}
	mp := got[bench.Mpcguard]
	for _, other := range []string{bench.MpcguardUncached, bench.OPA, bench.OPADirect} {
		for _, m := range bench.Compare(items, got[other], mp) {
			t.Errorf("%s decides differently from mpcguard on %s", other, m)
		}
	}
	check(t, items, mp)
	for _, allowAll := range []string{bench.Noop, bench.Floor} {
		assert.Empty(t, bench.Compare(items, got[allowAll], bench.Allows(items)), "%s must allow everything", allowAll)
	}

	for _, s := range srvs.List {
		want := mp[:len(mix)]
		if !slices.Contains(bench.Deciders, s.Name) {
			want = bench.Allows(mix)
		}
		cell, err := bench.RunCell(t.Context(), srvs.CAPEM, bench.Target{Server: s, Want: want}, mix,
			bench.CellOptions{Concurrency: 4, Duration: 5 * time.Second, MaxRequests: 3 * len(mix)})
		require.NoError(t, err)
		assert.Equal(t, 3*len(mix), cell.Requests, s.Name)
		assert.Zero(t, cell.Errors, "%s: %v", s.Name, cell.ErrorSamples)
		assert.Zero(t, cell.Mismatches, "%s: %v", s.Name, cell.MismatchSamples)
		assert.Positive(t, cell.PeakRSS, s.Name)
	}
}

func TestParseAnswer(t *testing.T) {
	const uid = "u-1"
	for name, tc := range map[string]struct {
		status  int
		body    string
		want    bench.Decision
		wantErr error
	}{
		"reads a plain allow": {
			status: 200, body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u-1","allowed":true,"status":{"code":200}}}`,
			want: bench.Allow,
		},
		"splits a denial into its messages, sorted, and sorts the warnings": {
			status: 200, body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u-1","allowed":false,` +
				`"status":{"code":403,"message":"[b] two\n[a] one"},"warnings":["w2","w1"]}}`,
			want: bench.Decision{Denials: []string{"[a] one", "[b] two"}, Warnings: []string{"w1", "w2"}},
		},
		"rejects an answer to another review": {
			status: 200, body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u-2","allowed":true}}`,
			wantErr: bench.ErrAnswer,
		},
		"rejects an answer without a response": {
			status: 200, body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantErr: bench.ErrAnswer,
		},
		"rejects an HTTP error": {status: http.StatusInternalServerError, body: `{}`, wantErr: bench.ErrStatus},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := bench.ParseAnswer(tc.status, []byte(tc.body), uid)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, d.Equal(tc.want), "got %s, want %s", d, tc.want)
		})
	}
}

func TestSummarize(t *testing.T) {
	lat := func(ms ...int) []time.Duration {
		out := make([]time.Duration, len(ms))
		for i, m := range ms {
			out[i] = time.Duration(m) * time.Millisecond
		}
		return out
	}
	cells := []bench.Cell{
		{Server: bench.Mpcguard, Concurrency: 1, Round: 1, Requests: 4, Elapsed: time.Second, Latencies: lat(1, 2, 3, 4), PeakRSS: 10},
		{Server: bench.Mpcguard, Concurrency: 1, Round: 2, Requests: 6, Elapsed: time.Second, Latencies: lat(5, 6, 7, 8, 9, 100), PeakRSS: 20},
		{Server: bench.OPA, Concurrency: 1, Round: 1, Requests: 5, Elapsed: 2 * time.Second, Latencies: lat(10, 10, 10, 10, 10)},
	}
	sums := bench.Summarize(cells, []string{bench.Mpcguard, bench.OPA}, []int{1})
	require.Len(t, sums, 2)
	m := sums[0]
	assert.Equal(t, 2, m.Rounds)
	assert.InDelta(t, 5.0, m.Throughput, 1e-9, "10 requests in 2 s")
	assert.InDelta(t, 4.0, m.ThroughputMin, 1e-9)
	assert.InDelta(t, 6.0, m.ThroughputMax, 1e-9)
	assert.Equal(t, 5*time.Millisecond, m.P50, "nearest rank: the 5th of 10")
	assert.Equal(t, 100*time.Millisecond, m.P99)
	assert.Equal(t, int64(20), m.PeakRSS, "the highest of the rounds")
	ratios := bench.Ratios(sums, []int{1})
	require.Len(t, ratios, 1)
	assert.InDelta(t, 2.0, ratios[0].Throughput, 1e-9, "5 req/s over 2.5 req/s")
	assert.InDelta(t, 10.0, ratios[0].P99, 1e-9, "100 ms over 10 ms")
}
