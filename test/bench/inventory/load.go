package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// review is one AdmissionReview of the mix, encoded once.
type review struct {
	name        string
	body        []byte
	wantAllowed bool
}

// mix is the load: sessions that each need at most 7 Ready persistent parties, so that both sizes give the
// same verdicts, and each of them reads the inventory.
func mix() []review {
	return []review{
		{"2-of-3, 2 persistent + 1 delegate", sessionReview("sign-a", 2, 3, map[string]int{"persistent": 2, "delegate": 1}), true},
		{"3-of-5, strict default (5 persistent)", sessionReview("sign-b", 3, 5, nil), true},
		{"5-of-9, 7 persistent + 2 delegate", sessionReview("reshare-c", 5, 9, map[string]int{"persistent": 7, "delegate": 2}), true},
		{"2-of-3, delegates reach t", sessionReview("sign-d", 2, 3, map[string]int{"persistent": 1, "delegate": 2}), false},
	}
}

var uids atomic.Int64

// sessionReview is an AdmissionReview of an MPCSession CREATE in the namespace, as the API server sends it.
func sessionReview(name string, t, n int, composition map[string]int) []byte {
	spec := map[string]any{"type": "sign", "threshold": map[string]any{"t": t, "n": n}}
	if composition != nil {
		spec["composition"] = composition
	}
	obj, err := json.Marshal(map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
		"metadata": map[string]any{"name": name, "namespace": namespace, "creationTimestamp": nil},
		"spec":     spec})
	if err != nil {
		panic(err) // maps of strings and numbers always encode
	}
	dryRun := false
	body, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": admissionv1.AdmissionRequest{
			UID:             types.UID(fmt.Sprintf("bench-%d", uids.Add(1))),
			Kind:            metav1.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"},
			Resource:        metav1.GroupVersionResource{Group: "mpc.mpcguard.io", Version: "v1alpha1", Resource: "mpcsessions"},
			RequestKind:     &metav1.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"},
			RequestResource: &metav1.GroupVersionResource{Group: "mpc.mpcguard.io", Version: "v1alpha1", Resource: "mpcsessions"},
			Name:            name,
			Namespace:       namespace,
			Operation:       admissionv1.Create,
			UserInfo:        authenticationv1.UserInfo{Username: "system:serviceaccount:mpc-system:mpc-system-coordinator", Groups: []string{"system:serviceaccounts", "system:authenticated"}},
			Object:          runtime.RawExtension{Raw: obj},
			DryRun:          &dryRun,
			Options:         runtime.RawExtension{Raw: []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}`)},
		}})
	if err != nil {
		panic(err)
	}
	return body
}

// loader sends reviews to the webhook over HTTPS with keep-alive connections.
type loader struct {
	url    string
	client *http.Client
	mix    []review
}

func newLoader(url string, caPEM []byte) (*loader, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the webhook's CA bundle holds no certificate")
	}
	return &loader{url: url + "?timeout=10s", mix: mix(), client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 64, DisableCompression: true}}}, nil
}

// post sends one review and returns the verdict.
func (l *loader) post(ctx context.Context, body []byte) (allowed bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	var out struct {
		Response *admissionv1.AdmissionResponse `json:"response"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return false, fmt.Errorf("status %d, not an AdmissionReview (%w): %.200s", resp.StatusCode, err, data)
	}
	if out.Response == nil {
		return false, fmt.Errorf("status %d, an AdmissionReview without a response: %.200s", resp.StatusCode, data)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d: %.200s", resp.StatusCode, data)
	}
	return out.Response.Allowed, nil
}

// waitInventory polls until the webhook's inventory counts exactly want Ready persistent parties in the
// namespace: a session needing want is allowed, one needing want+1 denied. It returns how long that took.
func (l *loader) waitInventory(ctx context.Context, want int) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	atLeast := func(n int) (bool, error) {
		return l.post(ctx, sessionReview("probe", 1, n, map[string]int{"persistent": n}))
	}
	for {
		enough, err := atLeast(want)
		if err == nil && enough {
			more, err2 := atLeast(want + 1)
			if err2 == nil && !more {
				return time.Since(start), nil
			}
			if err2 == nil {
				return 0, fmt.Errorf("the inventory counts more than %d Ready persistent parties", want)
			}
			err = err2
		}
		select {
		case <-ctx.Done():
			//nolint:errorlint // the last error, possibly nil, is for the reader; the cause is ctx.Err()
			return 0, fmt.Errorf("the webhook's inventory never counted %d Ready persistent parties (last error: %v): %w",
				want, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// result is one load run.
type result struct {
	pods, concurrency  int
	requests, failures int
	firstFailure       error
	wall               time.Duration
	p50, p99           time.Duration
}

func (r result) throughput() float64 { return float64(r.requests) / r.wall.Seconds() }

// run sends the mix round-robin from concurrency workers until duration has passed or maxRequests were sent,
// after a warm-up of 100 requests per worker that is not counted. A wrong verdict or a failed request counts
// as a failure.
func (l *loader) run(ctx context.Context, concurrency int, duration time.Duration, maxRequests int) (result, error) {
	r := result{concurrency: concurrency}
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range 100 {
				_, _ = l.post(ctx, l.mix[i%len(l.mix)].body)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return r, err
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		all      []time.Duration
		deadline = time.Now().Add(duration)
	)
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			lat := make([]time.Duration, 0, maxRequests/concurrency+1)
			failures, firstFailure := 0, error(nil)
			for {
				i := int(next.Add(1)) - 1
				if i >= maxRequests || ctx.Err() != nil || time.Now().After(deadline) {
					break
				}
				rv := l.mix[i%len(l.mix)]
				t0 := time.Now()
				allowed, err := l.post(ctx, rv.body)
				lat = append(lat, time.Since(t0))
				if err == nil && allowed != rv.wantAllowed {
					err = fmt.Errorf("%s: allowed=%v, want %v", rv.name, allowed, rv.wantAllowed)
				}
				if err != nil {
					failures++
					if firstFailure == nil {
						firstFailure = err
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			r.failures += failures
			if r.firstFailure == nil {
				r.firstFailure = firstFailure
			}
		})
	}
	wg.Wait()
	r.wall = time.Since(start)
	if err := ctx.Err(); err != nil {
		return r, err
	}
	r.requests = len(all)
	slices.Sort(all)
	r.p50, r.p99 = quantile(all, 0.50), quantile(all, 0.99)
	return r, nil
}

// quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func report(out io.Writer, results []result, small, large, mixSize int) {
	fmt.Fprintf(out, "\nMPCSession admission straight to the webhook over HTTPS (%d sessions in turn, 3 allowed + 1 denied, each reading the inventory):\n", mixSize)
	fmt.Fprintf(out, "  %6s  %11s  %8s  %8s  %9s  %9s  %8s\n", "pods", "concurrency", "requests", "failures", "p50", "p99", "req/s")
	for _, r := range results {
		fmt.Fprintf(out, "  %6d  %11d  %8d  %8d  %9s  %9s  %8.0f\n", r.pods, r.concurrency, r.requests, r.failures,
			us(r.p50), us(r.p99), r.throughput())
	}
	for _, r := range results {
		if r.firstFailure != nil {
			fmt.Fprintf(out, "  first failure (%d pods, concurrency %d): %v\n", r.pods, r.concurrency, r.firstFailure)
		}
	}
	fmt.Fprintf(out, "\nratio %d pods / %d pods (target: latency within 1.2x):\n", large, small)
	for _, a := range results {
		if a.pods != small {
			continue
		}
		for _, b := range results {
			if b.pods != large || b.concurrency != a.concurrency {
				continue
			}
			p50, p99 := ratio(b.p50, a.p50), ratio(b.p99, a.p99)
			verdict := "within 1.2x"
			if p50 > 1.2 || p99 > 1.2 {
				verdict = "OVER 1.2x"
			}
			fmt.Fprintf(out, "  concurrency %2d: p50 %.2fx  p99 %.2fx  throughput %.2fx  -> %s\n", a.concurrency,
				p50, p99, b.throughput()/a.throughput(), verdict)
		}
	}
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

// mem is the webhook's memory: resident (now and peak) from /proc/<pid>/status, and the Go heap in use from
// its /metrics, with the GC's heap goal (with GOGC=100, about twice the heap that was live at the last GC), in
// bytes.
type mem struct{ rss, hwm, heap, gcGoal int64 }

func memory(ctx context.Context, pid int, metricsURL string) (mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, fmt.Errorf("reading the webhook's memory: %w", err)
	}
	defer f.Close()
	var m mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return mem{}, fmt.Errorf("reading %s of process %d: %w", key, pid, err)
		}
		if key == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return mem{}, fmt.Errorf("reading the webhook's memory: %w", err)
	}
	heap, err := gauge(ctx, metricsURL, "go_memstats_heap_inuse_bytes")
	if err != nil {
		return mem{}, err
	}
	goal, err := gauge(ctx, metricsURL, "go_memstats_next_gc_bytes")
	if err != nil {
		return mem{}, err
	}
	m.heap, m.gcGoal = int64(heap), int64(goal)
	return m, nil
}

// gauge reads one unlabelled sample from a /metrics endpoint.
func gauge(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if value, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return 0, fmt.Errorf("%s at %s: %w", name, url, err)
			}
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("scraping %s: %w", url, err)
	}
	return 0, fmt.Errorf("%s has no %s", url, name)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
