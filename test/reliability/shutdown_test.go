package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// shutdownDelay is the webhook's --shutdown-delay: unready, still serving, before the listener closes.
	shutdownDelay = time.Second
	// loadWorkers send reviews concurrently, each waiting for its answer before the next (keep-alive).
	loadWorkers = 16
	// maxRequests bounds the whole load, whatever happens.
	maxRequests = 200_000
)

// reviewBody is an AdmissionReview for a pod: a party with a role (allowed), a party without one (denied),
// or a pod that is no party (allowed), by i.
func reviewBody(uid string, i int) ([]byte, error) {
	labels := map[string]string{"app.kubernetes.io/component": "mpc-party", "party-role": "persistent"}
	switch i % 3 {
	case 1:
		delete(labels, "party-role")
	case 2:
		labels = map[string]string{"app": "web"}
	}
	return podReview(uid, labels)
}

// podReview is an admission.k8s.io/v1 AdmissionReview of the CREATE of a pod named uid in mpc-system.
func podReview(uid string, labels map[string]string) ([]byte, error) {
	// As the StatefulSet controller creates a pod of the persistent pool: a persistent party is admitted
	// only from there (party-persistent-origin).
	pod, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": uid, "namespace": "mpc-system", "labels": labels,
			"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "mpc-party",
				"uid": "5f0c1d2e-0000-4000-8000-000000000001", "controller": true}}},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "mpc/party:1.0"}}}})
	if err != nil {
		return nil, err
	}
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: types.UID(uid), Operation: admissionv1.Create,
			Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name:     uid, Namespace: "mpc-system", Object: runtime.RawExtension{Raw: pod},
			UserInfo: authenticationv1.UserInfo{Username: "system:serviceaccount:kube-system:statefulset-controller"}},
	})
}

// load sends AdmissionReviews from loadWorkers goroutines until stopped, and sorts every attempt into
// answered (a complete 200 AdmissionReview for its uid), refused (no connection: nothing reached the
// server), or lost (the request was written on a connection and no complete answer came back).
type load struct {
	url    string
	client *http.Client
	stop   atomic.Bool
	wg     sync.WaitGroup

	sent, answered, refused, lost atomic.Int64

	mu         sync.Mutex
	answers    []time.Time // when each answer completed
	firstRefus time.Time   // the first refused attempt after since
	since      time.Time
	lostErrs   []string
}

func (l *load) start(ctx context.Context) {
	for w := range loadWorkers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; !l.stop.Load() && l.sent.Load() < maxRequests; i++ {
				l.one(ctx, fmt.Sprintf("w%d-%d", w, i), i)
			}
		}()
	}
}

func (l *load) one(ctx context.Context, uid string, i int) {
	body, err := reviewBody(uid, i)
	if err != nil {
		panic(err) // a fixed, valid value: cannot happen
	}
	// wrote is whether the transport's last attempt wrote the request: GetConn starts each attempt. (The
	// transport retries on a new connection only what the server cannot have processed: nothing written, or an
	// HTTP/2 stream the server refused with its GOAWAY.)
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		GetConn: func(string) { wrote.Store(false) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost,
		l.url+"?timeout=10s", bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	l.sent.Add(1)
	resp, err := l.client.Do(req)
	if err != nil {
		// A dial error means the last attempt never connected.
		if !wrote.Load() || isDial(err) {
			l.refused.Add(1)
			l.mu.Lock()
			if l.firstRefus.IsZero() && !l.since.IsZero() {
				l.firstRefus = time.Now()
			}
			l.mu.Unlock()
			time.Sleep(5 * time.Millisecond) // no hot loop against a closed port
			return
		}
		l.fail(uid, err.Error())
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		l.fail(uid, fmt.Sprintf("reading the answer (HTTP %d): %v", resp.StatusCode, err))
		return
	}
	var rv admissionv1.AdmissionReview
	if resp.StatusCode != http.StatusOK {
		l.fail(uid, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, raw))
		return
	}
	if err := json.Unmarshal(raw, &rv); err != nil || rv.Response == nil || string(rv.Response.UID) != uid {
		l.fail(uid, fmt.Sprintf("not the AdmissionReview for %s: %v: %s", uid, err, raw))
		return
	}
	if want := i%3 != 1; rv.Response.Allowed != want {
		l.fail(uid, fmt.Sprintf("allowed=%v, want %v: %s", rv.Response.Allowed, want, raw))
		return
	}
	l.answered.Add(1)
	l.mu.Lock()
	l.answers = append(l.answers, time.Now())
	l.mu.Unlock()
}

func (l *load) fail(uid, msg string) {
	l.lost.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lostErrs) < 10 {
		l.lostErrs = append(l.lostErrs, uid+": "+msg)
	}
}

// watchRefusals records the first refused attempt from now on.
func (l *load) watchRefusals() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.since, l.firstRefus = time.Now(), time.Time{}
}

func (l *load) firstRefused() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstRefus
}

// answeredBetween counts the answers completed in (from, to]; a zero to means until now.
func (l *load) answeredBetween(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.answers {
		if at.After(from) && (to.IsZero() || !at.After(to)) {
			n++
		}
	}
	return n
}

// readiness polls /readyz from start until nothing answers and records when it first failed (503) and when
// its listener was gone. Read unready and gone after done is closed.
type readiness struct {
	unready, gone time.Time
	sawReady      atomic.Bool
	done          chan struct{}
}

func watchReadiness(ctx context.Context, url string) *readiness {
	r := &readiness{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			switch readyStatus(ctx, url) {
			case http.StatusOK:
				r.sawReady.Store(true)
			case 0:
				r.gone = time.Now()
				return
			default:
				if r.unready.IsZero() {
					r.unready = time.Now()
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return r
}

func TestSIGTERMTurnsTheWebhookUnreadyFirstThenAnswersEveryReviewItAcceptedAndExits0(t *testing.T) {
	bin := mpcguardBin(t)
	for _, proto := range []struct {
		name string
		h2   bool
	}{{"over HTTP/1.1 with keep-alive", false}, {"over HTTP/2, as the API server calls webhooks", true}} {
		t.Run(proto.name, func(t *testing.T) {
			addrs := newWebhookAddrs(t)
			args := addrs.args("--shutdown-delay", shutdownDelay.String())
			first := startProc(t, bin, args...)
			waitReady(t, first, addrs.readyz)

			l := &load{url: addrs.url, client: addrs.tlsClient(proto.h2, loadWorkers)}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			l.start(ctx)
			stopLoad := sync.OnceFunc(func() { l.stop.Store(true); l.wg.Wait() })
			t.Cleanup(stopLoad)
			require.Eventually(t, func() bool { return l.answered.Load() >= 300 || l.lost.Load() > 0 },
				20*time.Second, 10*time.Millisecond, "the load gets going")

			ready := watchReadiness(ctx, addrs.readyz)
			require.Eventually(t, ready.sawReady.Load, 10*time.Second, 5*time.Millisecond, "/readyz says ok before SIGTERM")
			l.watchRefusals()
			sigterm := time.Now()
			require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
			assert.Equal(t, 0, first.wait(t, shutdownDelay+30*time.Second), "exit status after SIGTERM")
			exited := time.Since(sigterm)
			<-ready.done
			closed := l.firstRefused()

			second := startProc(t, bin, args...)
			waitReady(t, second, addrs.readyz)
			restarted := time.Now()
			require.Eventually(t, func() bool { return l.answeredBetween(restarted, time.Time{}) >= 300 || l.lost.Load() > 0 },
				20*time.Second, 10*time.Millisecond, "the restarted webhook takes the load")
			stopLoad()
			sigterm2 := time.Now()
			require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
			assert.Equal(t, 0, second.wait(t, shutdownDelay+30*time.Second), "exit status of the restarted webhook")
			exited2 := time.Since(sigterm2)

			sent, answered, refused, lost := l.sent.Load(), l.answered.Load(), l.refused.Load(), l.lost.Load()
			t.Logf("shutdown: %s: %d workers sent=%d answered=%d refused-before-accept=%d lost=%d; after SIGTERM: "+
				"unready at %s, listener closed by %s, exit 0 at %s, %d answered while unready; %d answered after the restart, "+
				"which exited 0 %s after its SIGTERM with no load",
				proto.name, loadWorkers, sent, answered, refused, lost, since(ready.unready, sigterm), since(closed, sigterm),
				exited.Round(time.Millisecond), l.answeredBetween(ready.unready, closed), l.answeredBetween(restarted, time.Time{}), exited2.Round(time.Millisecond))

			assert.Zero(t, lost, "every request written to the webhook got a complete answer; lost:\n%s", strings.Join(l.lostErrs, "\n"))
			assert.Equal(t, sent, answered+refused+lost)
			require.False(t, ready.unready.IsZero(), "/readyz turned unready (503) after SIGTERM")
			require.False(t, ready.gone.IsZero(), "/readyz stopped answering before the process exited")
			require.False(t, closed.IsZero(), "the webhook's listener closed: the load was refused")
			assert.True(t, ready.unready.Before(closed), "/readyz went unready (%s) before the listener closed (%s)",
				since(ready.unready, sigterm), since(closed, sigterm))
			assert.GreaterOrEqual(t, closed.Sub(sigterm), shutdownDelay, "the listener stays open for --shutdown-delay")
			assert.Positive(t, l.answeredBetween(ready.unready, closed), "reviews are still answered while unready")
		})
	}
}

func since(at, ref time.Time) string {
	if at.IsZero() {
		return "never"
	}
	return at.Sub(ref).Round(time.Millisecond).String()
}
