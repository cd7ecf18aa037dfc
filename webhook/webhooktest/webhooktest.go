package webhooktest

import (
	"context"
	"testing"
	"time"

	"github.com/mpcguard/mpcguard/webhook"
)

// StopTimeout bounds how long Cleanup waits for the server to stop. The server drains for its ShutdownDelay
// first, which tests leave at zero.
const StopTimeout = 15 * time.Second

// Run creates the server with webhook.New and runs it until the test ends. The server outlives the test body:
// its context is not t.Context(), which is cancelled before Cleanup runs, so Cleanup can check that Run returned
// no error.
func Run(t testing.TB, opts webhook.Options) *webhook.Server {
	t.Helper()
	srv, err := webhook.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("creating the webhook server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the webhook server stopped with an error: %v", err)
			}
		case <-time.After(StopTimeout):
			t.Errorf("the webhook server did not stop within %s", StopTimeout)
		}
	})
	return srv
}
