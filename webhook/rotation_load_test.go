package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/policies/engine"
)

// Rotation under load: the bounds of one run.
const (
	rotationWorkers     = 8
	rotationSwaps       = 4
	rotationMaxRequests = 50_000                 // across the workers: the load stops here even if the swaps have not
	rotationSettle      = 300 * time.Millisecond // steady load between two swaps
	rotationMaxSwitch   = 5 * time.Second        // a new certificate must be served this soon after its files are written
)

// certWriter replaces the serving pair in dir the way some real rotator does.
type certWriter func(t *testing.T, dir string, pair certs.Pair)

// controller-runtime's certwatcher watches tls.crt and tls.key themselves (fsnotify, re-adding the watch when
// a file is replaced), and re-reads them every 10s as a fallback. The two ways certificates are replaced in
// practice must both be picked up from the events, with no handshake served from a half-written pair.
func TestCertificateRotationUnderLoadFailsNoHandshakeAndServesTheNewCertificateWithinSeconds(t *testing.T) {
	for name, tc := range map[string]struct {
		write certWriter
		setup certWriter // turns startServer's plain files into this layout first
	}{
		// certs.Pair.WriteDir: each file written aside and renamed over the old one, as consul-template (Vault
		// Agent) or an operator's mv does. Between the two renames key and certificate disagree; the watcher must
		// keep the old pair until they match again.
		"files renamed over the old ones": {write: func(t *testing.T, dir string, pair certs.Pair) {
			require.NoError(t, pair.WriteDir(dir))
		}},
		// A mounted Secret (cert-manager's Certificate -> Secret -> volume): kubelet's atomic writer writes a new
		// timestamped directory, swaps the ..data symlink to it, and removes the old directory; tls.crt and
		// tls.key are symlinks through ..data, so both change in one rename.
		"kubelet's ..data symlink swap, as for a mounted Secret": {
			write: kubeletWrite,
			setup: kubeletWrite,
		},
	} {
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, engine.DefaultConfig())
			issue := func() (certs.Pair, string) {
				pair, err := ts.ca.Issue(time.Hour, "127.0.0.1") // a new leaf (new key, new serial) from the same CA
				require.NoError(t, err)
				return pair, serialOf(t, pair.CertPEM)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(ts.ca.CertPEM)
			load := newRotationLoad(ts.url, pool, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p",
				partyPod("p", nil), nil, false))

			if tc.setup != nil {
				pair, serial := issue()
				tc.setup(t, ts.certDir, pair)
				load.expect(serial)
				require.Eventually(t, func() bool { return load.probe() == serial }, rotationMaxSwitch, 10*time.Millisecond,
					"the server never served the certificate of the converted layout")
			} else {
				serial := load.probe()
				require.NotEmpty(t, serial, "the server answers a handshake")
				load.expect(serial)
			}

			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a safety net: the load stops by itself
			defer cancel()
			stop := make(chan struct{})
			done := load.run(ctx, stop, rotationWorkers, rotationMaxRequests)
			stopLoad := sync.OnceFunc(func() { close(stop); <-done }) // each worker finishes its request: no handshake is cut off
			defer stopLoad()
			time.Sleep(rotationSettle)
			var maxSwitch time.Duration
			for range rotationSwaps {
				pair, serial := issue()
				load.expect(serial)
				written := time.Now()
				tc.write(t, ts.certDir, pair)
				seen, ok := load.waitFor(ctx, serial, rotationMaxSwitch)
				require.True(t, ok, "certificate %s not served within %s of being written", serial, rotationMaxSwitch)
				maxSwitch = max(maxSwitch, seen.Sub(written))
				time.Sleep(rotationSettle)
			}
			stopLoad()

			r := load.result()
			t.Logf("rotation: handshakes=%d failed=%d swaps=%d max-switch=%s stale=%d mode=%q",
				r.handshakes, r.failed, rotationSwaps, maxSwitch.Round(time.Millisecond), r.stale, name)
			assert.Zero(t, r.failed, "failed handshakes or reviews; the first ones: %v", r.errors)
			assert.Zero(t, r.stale, "handshakes that began after a newer certificate had been served got an older one")
			assert.Greater(t, r.handshakes, rotationWorkers*rotationSwaps, "the load ran across every swap")
			assert.Less(t, r.handshakes, rotationMaxRequests+rotationWorkers, "the load is bounded")
		})
	}
}

// kubeletWrite writes pair into dir as kubelet's atomic writer does for a Secret volume: files in a new
// ..<timestamp> directory, the ..data symlink swapped to it by rename, the visible tls.crt and tls.key created
// once as symlinks into ..data (replacing plain files the first time), the previous directory removed last.
func kubeletWrite(t *testing.T, dir string, pair certs.Pair) {
	t.Helper()
	ts, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05.")) // ..2026_01_02_15_04_05.123456
	require.NoError(t, err)
	for name, data := range map[string][]byte{"tls.crt": pair.CertPEM, "tls.key": pair.KeyPEM} {
		require.NoError(t, os.WriteFile(filepath.Join(ts, name), data, 0o600))
	}
	data := filepath.Join(dir, "..data")
	old, err := os.Readlink(data)
	if err != nil {
		require.ErrorIs(t, err, os.ErrNotExist)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	require.NoError(t, os.Symlink(filepath.Base(ts), tmp))
	require.NoError(t, os.Rename(tmp, data))
	for _, name := range []string{"tls.crt", "tls.key"} {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("..data", name) {
			continue
		}
		require.NoError(t, os.Symlink(filepath.Join("..data", name), link+".tmp"))
		require.NoError(t, os.Rename(link+".tmp", link))
	}
	if old != "" {
		require.NoError(t, os.RemoveAll(filepath.Join(dir, old)))
	}
}

func serialOf(t *testing.T, certPEM []byte) string {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return cert.SerialNumber.String()
}

// rotationLoad sends reviews, each over a new connection (a full TLS handshake), and records which
// certificate served each one.
type rotationLoad struct {
	url    string
	body   []byte
	client *http.Client

	handshakes, failed atomic.Int64

	mu     sync.Mutex
	gen    map[string]int       // serial -> generation (order written)
	first  map[string]time.Time // serial -> when a handshake with it first completed
	obs    []observation
	errors []string
}

type observation struct {
	start time.Time
	gen   int
}

func newRotationLoad(url string, pool *x509.CertPool, body []byte) *rotationLoad {
	return &rotationLoad{url: url, body: body, gen: map[string]int{}, first: map[string]time.Time{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DisableKeepAlives: true, // every request a new connection, so every request a handshake
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}}}
}

// expect registers the next certificate to be written.
func (l *rotationLoad) expect(serial string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen[serial] = len(l.gen)
}

// probe makes one handshake outside the load and returns the served serial ("" on error).
func (l *rotationLoad) probe() string {
	resp, err := l.client.Get(l.url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	return resp.TLS.PeerCertificates[0].SerialNumber.String()
}

// run starts workers that post reviews until stop is closed, ctx ends or maxRequests have been sent.
func (l *rotationLoad) run(ctx context.Context, stop <-chan struct{}, workers, maxRequests int) <-chan struct{} {
	var wg sync.WaitGroup
	var sent atomic.Int64
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && sent.Add(1) <= int64(maxRequests) {
				select {
				case <-stop:
					return
				default:
				}
				l.once(ctx)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

func (l *rotationLoad) once(ctx context.Context) {
	start := time.Now()
	serial, err := l.review(ctx)
	if ctx.Err() != nil { // the test timed out mid-request: neither a success nor a failure
		return
	}
	l.handshakes.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed.Add(1)
		if len(l.errors) < 5 {
			l.errors = append(l.errors, err.Error())
		}
		return
	}
	gen, known := l.gen[serial]
	if !known {
		l.failed.Add(1)
		l.errors = append(l.errors, "served an unknown certificate "+serial)
		return
	}
	if _, ok := l.first[serial]; !ok {
		l.first[serial] = time.Now()
	}
	l.obs = append(l.obs, observation{start: start, gen: gen})
}

// review posts one AdmissionReview and checks the answer is the policy's denial.
func (l *rotationLoad) review(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(l.body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &review); err != nil {
		return "", fmt.Errorf("decoding the answer: %w", err)
	}
	if review.Response == nil || review.Response.Allowed {
		return "", fmt.Errorf("an unlabelled party pod was not denied: %s", b)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.String(), nil
}

// waitFor waits until a handshake of the load has been served serial, and returns when that first happened.
func (l *rotationLoad) waitFor(ctx context.Context, serial string, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		l.mu.Lock()
		at, ok := l.first[serial]
		l.mu.Unlock()
		if ok {
			return at, true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Time{}, false
}

type rotationResult struct {
	handshakes, failed, stale int
	errors                    []string
}

// result counts, besides failures, the stale handshakes: ones that began after a newer certificate had
// already been served to someone, yet got an older one. Once the watcher has swapped, every new handshake
// must get the new certificate.
func (l *rotationLoad) result() rotationResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := rotationResult{handshakes: int(l.handshakes.Load()), failed: int(l.failed.Load()), errors: l.errors}
	firstByGen := map[int]time.Time{}
	for serial, at := range l.first {
		firstByGen[l.gen[serial]] = at
	}
	for _, o := range l.obs {
		for gen, at := range firstByGen {
			if gen > o.gen && o.start.After(at) {
				r.stale++
				break
			}
		}
	}
	return r
}
