package reliability

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/ports"
)

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// mpcguardBin is $MPCGUARD_BIN, or ./cmd/mpcguard built once for the package's tests (removed by TestMain).
func mpcguardBin(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "mpcguard-reliability-"); binary.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		binary.path, binary.err = cluster.MpcguardBin(ctx, binary.dir)
	})
	require.NoError(t, binary.err, "building mpcguard")
	return binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the test's reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is an mpcguard process started by a test; t.Cleanup kills it if it still runs.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when the process has exited and been reaped
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start(), "starting %s %v", bin, args)
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("stderr of mpcguard %v:\n%s", args, p.stderr.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit, for timeout at most, and returns its exit code.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		require.FailNow(t, "process did not exit", "mpcguard still runs after %s; stderr:\n%s", timeout, p.stderr.String())
		return -1
	}
}

// webhookAddrs are the listeners of one `mpcguard webhook` on 127.0.0.1 and the client that trusts it.
type webhookAddrs struct {
	port                    int
	certDir                 string
	healthAddr, metricsAddr string // host:port
	url, readyz, metricsURL string
	rootCAs                 *x509.CertPool
}

// newWebhookAddrs picks free ports and writes a loopback serving certificate.
func newWebhookAddrs(t *testing.T) webhookAddrs {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.WriteLoopback(dir, time.Hour)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca.CertPEM))
	port := ports.FreeT(t)
	health := "127.0.0.1:" + strconv.Itoa(ports.FreeT(t))
	metrics := "127.0.0.1:" + strconv.Itoa(ports.FreeT(t))
	return webhookAddrs{
		port: port, certDir: dir, rootCAs: pool,
		healthAddr: health, metricsAddr: metrics,
		url:    fmt.Sprintf("https://127.0.0.1:%d/validate", port),
		readyz: "http://" + health + "/readyz", metricsURL: "http://" + metrics + "/metrics",
	}
}

// args are the flags of `mpcguard webhook` for these listeners, with no cluster (--inventory=false).
func (a webhookAddrs) args(extra ...string) []string {
	return append([]string{"webhook", "--inventory=false", "--host", "127.0.0.1", "--port", strconv.Itoa(a.port),
		"--cert-dir", a.certDir, "--health-addr", a.healthAddr, "--metrics-addr", a.metricsAddr}, extra...)
}

// tlsClient trusts the webhook's CA and speaks HTTP/1.1 with keep-alive, or HTTP/2 when h2 is set.
func (a webhookAddrs) tlsClient(h2 bool, conns int) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: a.rootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   h2,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
	}}
}

// readyStatus is /readyz's HTTP status, or 0 when nothing answers.
func readyStatus(ctx context.Context, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := (&http.Client{Timeout: time.Second}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitReady polls /readyz until it answers 200, failing if the process exits first or within a bounded time.
func waitReady(t *testing.T, p *proc, readyz string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for readyStatus(t.Context(), readyz) != http.StatusOK {
		if p.exited() {
			require.FailNow(t, "mpcguard webhook exited before it was ready", "exit code %d; stderr:\n%s",
				p.cmd.ProcessState.ExitCode(), p.stderr.String())
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "mpcguard webhook not ready within 30s", "stderr:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isDial reports whether err happened while connecting: nothing reached the server.
func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
