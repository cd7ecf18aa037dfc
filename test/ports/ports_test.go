package ports

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFreeReturnsABindablePortOutsideTheEphemeralRange(t *testing.T) {
	for range 20 {
		port := FreeT(t)
		require.GreaterOrEqual(t, port, low)
		require.Less(t, port, high)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		require.NoError(t, err, "the port Free returned can be bound")
		require.NoError(t, ln.Close())
	}
}

func TestFreeSkipsAPortThatIsInUse(t *testing.T) {
	held := map[int]net.Listener{}
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	// Hold 50 ports the way another test's server would; Free must never return one of them.
	for len(held) < 50 {
		port := FreeT(t)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		require.NoError(t, err)
		held[port] = ln
	}
	for range 500 {
		port := FreeT(t)
		_, busy := held[port]
		require.False(t, busy, "Free returned port %d, which a listener holds", port)
	}
}
