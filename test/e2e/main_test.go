package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// nodes is the size of the shared cluster: kms-13-values.yaml needs 13 nodes for its 13 persistent parties
// (required anti-affinity), the scaling test 5.
const nodes = 15

var shared struct {
	once sync.Once
	env  *scenario.Env
	err  error
}

// sharedEnv is the demo's environment on a cluster shared by the package's tests: mpc-system installed from
// the checked-in charts/ in namespace mpc-system (restricted), its webhook a local process.
func sharedEnv(t *testing.T) *scenario.Env {
	t.Helper()
	shared.once.Do(func() {
		if shared.err = cluster.CheckTools(cluster.BinDir(), cluster.ControlPlaneTools...); shared.err != nil {
			return
		}
		root, err := cluster.RepoRoot()
		if err != nil {
			shared.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		shared.env, shared.err = scenario.Up(ctx, scenario.Options{Nodes: nodes, Charts: filepath.Join(root, "charts"),
			Mpcguard: os.Getenv("MPCGUARD_BIN"), Log: progress{}, StopOnInterrupt: true})
		fmt.Fprintf(os.Stderr, "e2e: shared environment up in %s\n", time.Since(start).Round(100*time.Millisecond))
	})
	require.NoError(t, shared.err, "bringing up the shared local cluster")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of the cluster's logs:\n%s", shared.env.Cluster.Logs(10))
			if w := shared.env.Webhook; w != nil {
				t.Logf("the end of the webhook's log:\n%s", w.Logs(20))
			}
		}
	})
	return shared.env
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Down(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the shared environment:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// progress prints the environment's progress lines when go test -v is used.
type progress struct{}

func (progress) Write(p []byte) (int, error) {
	if testing.Verbose() {
		fmt.Fprint(os.Stderr, "e2e: "+string(p))
	}
	return len(p), nil
}

// requireDenied checks that err is the API server relaying mpcguard's denial by policyID.
func requireDenied(t *testing.T, err error, policyID string) {
	t.Helper()
	require.Error(t, err, "the API server should have rejected this")
	assert.True(t, apierrors.IsForbidden(err), "a webhook denial is Forbidden, got %v", err)
	assert.Contains(t, err.Error(), "admission webhook")
	assert.Contains(t, err.Error(), "denied the request: ["+policyID+"]")
}
