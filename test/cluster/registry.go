package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mpcguard/mpcguard/test/ports"
)

// Registry is distribution's registry (built by `make tools`) serving plain HTTP on 127.0.0.1, with its storage
// in a directory of its own. A real node pulls from it after [Cluster.TrustRegistry].
type Registry struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	proc *Process
}

// StartRegistry starts a registry with storage and log under dir and waits until it answers /v2/.
func StartRegistry(ctx context.Context, binDir, dir string) (*Registry, error) {
	if err := CheckTools(binDir, "registry"); err != nil {
		return nil, err
	}
	port, err := ports.Free()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: %s}
  delete: {enabled: true}
http:
  addr: %s
`, filepath.Join(dir, "registry"), addr)), 0o600); err != nil {
		return nil, fmt.Errorf("writing the registry configuration: %w", err)
	}
	p, err := StartProcess("registry", filepath.Join(binDir, "registry"), []string{"serve", cfg},
		filepath.Join(dir, "registry.log"), append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true"))
	if err != nil {
		return nil, err
	}
	r := &Registry{Addr: addr, proc: p}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for !httpOK(ctx, client, "http://"+addr+"/v2/", "") {
		if p.exited() {
			return nil, p.exitError()
		}
		select {
		case <-ctx.Done():
			_ = r.Stop()
			return nil, fmt.Errorf("registry not ready on %s: %w\n%s", addr, ctx.Err(), p.tail(20))
		case <-time.After(200 * time.Millisecond):
		}
	}
	return r, nil
}

// Stop ends the registry.
func (r *Registry) Stop() error { return stopProcesses([]*Process{r.proc}, stopGrace) }

// Logs is the end of the registry's log.
func (r *Registry) Logs(n int) string { return r.proc.tail(n) }
