package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/test/ports"
)

// WebhookPath is where `mpcguard webhook` serves admission reviews.
const WebhookPath = "/validate"

// MpcguardBin returns $MPCGUARD_BIN (make test sets it to bin/mpcguard) or builds ./cmd/mpcguard into dir.
func MpcguardBin(ctx context.Context, dir string) (string, error) {
	if bin := os.Getenv("MPCGUARD_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("MPCGUARD_BIN: %w", err)
		}
		return bin, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mpcguard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/mpcguard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/mpcguard: %w\n%s", err, out)
	}
	return bin, nil
}

// WebhookOptions configure [StartWebhook].
type WebhookOptions struct {
	// Bin is the mpcguard binary (see [MpcguardBin]).
	Bin string
	// Kubeconfig is the cluster of the party pod inventory.
	Kubeconfig string
	// Args are more flags of `mpcguard webhook`: --namespaces, --party-selector, --share-claim-prefixes...
	Args []string
	// Dir receives the serving certificate and the log (default: a new temporary directory, removed by Stop).
	Dir string
}

// Webhook is `mpcguard webhook` running as a local process on 127.0.0.1, with a serving certificate from a CA
// of its own: the API server reaches it at URL and trusts CABundle (a chart's webhook.url and
// webhook.caBundle, base64-encoded). [Webhook.Halt] and [Webhook.Restart] take the process down and bring it
// back on the same URL with the same certificate and arguments, as a crash and a restart would.
type Webhook struct {
	URL      string
	CABundle []byte
	Port     int
	// HealthURL is the base of /healthz and /readyz; MetricsURL is /metrics.
	HealthURL, MetricsURL string
	LogPath               string

	bin, name string
	args      []string
	mu        sync.Mutex // guards proc and stopped
	proc      *Process
	dir       string
	tempDir   bool
	stopped   bool
	stopErr   error
}

// StartWebhook starts the webhook and waits until its /readyz answers (policies compiled, certificates loaded,
// inventory synced).
func StartWebhook(ctx context.Context, opts WebhookOptions) (w *Webhook, err error) {
	w = &Webhook{dir: opts.Dir}
	if w.dir == "" {
		if w.dir, err = os.MkdirTemp("", "mpcguard-webhook-"); err != nil {
			return nil, fmt.Errorf("creating the webhook directory: %w", err)
		}
		w.tempDir = true
	}
	defer func() {
		if err != nil {
			_ = w.Stop()
			w = nil
		}
	}()
	ca, err := certs.NewCA("mpcguard-webhook-ca", 24*time.Hour)
	if err != nil {
		return w, err
	}
	pair, err := ca.Issue(24*time.Hour, "127.0.0.1")
	if err != nil {
		return w, err
	}
	certDir := filepath.Join(w.dir, "certs")
	if err := pair.WriteDir(certDir); err != nil {
		return w, err
	}
	w.CABundle = ca.CertPEM
	free := make([]int, 3)
	for i := range free {
		if free[i], err = ports.Free(); err != nil {
			return w, err
		}
	}
	w.Port = free[0]
	w.URL = fmt.Sprintf("https://127.0.0.1:%d%s", w.Port, WebhookPath)
	health := fmt.Sprintf("127.0.0.1:%d", free[1])
	metrics := fmt.Sprintf("127.0.0.1:%d", free[2])
	w.HealthURL, w.MetricsURL = "http://"+health, "http://"+metrics+"/metrics"
	w.bin, w.name = opts.Bin, "mpcguard webhook"
	w.args = append([]string{"webhook",
		"--host", "127.0.0.1", "--port", strconv.Itoa(w.Port), "--cert-dir", certDir,
		"--health-addr", health, "--metrics-addr", metrics,
		"--kubeconfig", opts.Kubeconfig, "--shutdown-delay", "0s"}, opts.Args...)
	w.LogPath = filepath.Join(w.dir, "webhook.log")
	return w, w.start(ctx)
}

// start runs the process and waits until its /readyz answers, for a minute at most.
func (w *Webhook) start(ctx context.Context) error {
	proc, err := StartProcess(w.name, w.bin, w.args, w.LogPath, os.Environ())
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.proc = proc
	w.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for !httpOK(waitCtx, client, w.HealthURL+"/readyz", "") {
		if proc.exited() {
			return proc.exitError()
		}
		select {
		case <-waitCtx.Done():
			return fmt.Errorf("mpcguard webhook not ready within a minute: %w; the end of its log:\n%s",
				waitCtx.Err(), proc.tail(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// Halt ends the webhook process (SIGTERM, SIGKILL after a grace period) and keeps its directory, certificate
// and port, so that [Webhook.Restart] can bring it back. Halting a halted webhook does nothing.
func (w *Webhook) Halt() error {
	w.mu.Lock()
	proc := w.proc
	w.mu.Unlock()
	if proc == nil || proc.exited() {
		return nil
	}
	return stopProcesses([]*Process{proc}, 10*time.Second)
}

// Restart halts the webhook if it runs, then starts it again on the same URL, with the same certificate and
// arguments, and waits until it is ready. Its log continues in the same file.
func (w *Webhook) Restart(ctx context.Context) error {
	w.mu.Lock()
	stopped := w.stopped
	w.mu.Unlock()
	if stopped {
		return errors.New("mpcguard webhook: restarting a stopped webhook")
	}
	if err := w.Halt(); err != nil {
		return err
	}
	return w.start(ctx)
}

// Stop ends the webhook process and removes its temporary directory; it cannot be restarted afterwards.
// Later calls return the first call's error.
func (w *Webhook) Stop() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return w.stopErr
	}
	w.stopped = true
	if w.proc != nil {
		w.stopErr = stopProcesses([]*Process{w.proc}, 10*time.Second)
	}
	if w.tempDir {
		if err := os.RemoveAll(w.dir); err != nil && w.stopErr == nil {
			w.stopErr = err
		}
	}
	return w.stopErr
}

// Pid is the process id of the webhook's current process.
func (w *Webhook) Pid() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.proc.Pid()
}

// Logs is the end of the webhook's log (while its directory exists).
func (w *Webhook) Logs(n int) string {
	w.mu.Lock()
	proc := w.proc
	w.mu.Unlock()
	if proc == nil {
		return "(not started)"
	}
	return proc.tail(n)
}

// WriteLog copies the whole log to out.
func (w *Webhook) WriteLog(out io.Writer) error {
	f, err := os.Open(w.LogPath)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(out, f)
	return err
}
