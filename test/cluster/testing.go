package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// StartT starts a cluster for a test and stops it in t.Cleanup, also when the test fails or is interrupted
// (SIGINT, SIGTERM). Missing tools fail the test with a message naming `make tools`; a failed test gets the
// end of every process's log.
func StartT(t testing.TB, opts Options) *Cluster {
	t.Helper()
	opts.StopOnInterrupt = true
	if opts.Log == nil {
		opts.Log = testWriter{t}
	}
	c, err := Start(t.Context(), opts)
	require.NoError(t, err, "starting the local control plane")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of the cluster's logs:\n%s", c.Logs(30))
		}
		assert.NoError(t, c.Stop(), "stopping the local control plane")
	})
	return c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && p[len(p)-1] == '\n' {
		p = p[:len(p)-1]
	}
	return p
}
