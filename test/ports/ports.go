package ports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// The kernel picks the local port of every outgoing connection (and of a listen on port 0) from its ephemeral
// range, 32768–60999 by default; a port found by listening on :0 and closing could be taken by any connection
// before the server under test binds it. Services' NodePorts use 30000–32767. Free picks below both.
const (
	low  = 20000
	high = 30000
	// attempts bounds the search: a port is busy only when another test holds it.
	attempts = 200
)

// Free returns a port on 127.0.0.1 that nothing listens on, chosen at random below the ephemeral and NodePort
// ranges.
func Free() (int, error) {
	var lastErr error
	for range attempts {
		port := low + rand.IntN(high-low)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			lastErr = err
			continue
		}
		if err := ln.Close(); err != nil {
			return 0, fmt.Errorf("closing the probe listener on port %d: %w", port, err)
		}
		return port, nil
	}
	return 0, fmt.Errorf("finding a free port on 127.0.0.1 in %d–%d after %d attempts: %w", low, high-1, attempts,
		lastErr)
}

// FreeT is [Free] for a test, which fails when there is none.
func FreeT(t testing.TB) int {
	t.Helper()
	port, err := Free()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
