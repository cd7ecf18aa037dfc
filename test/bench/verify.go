package bench

import (
	"bytes"
	"context"
	"fmt"
)

// Verify sends each item once to the server, in order over one connection, and returns its decisions. An
// item whose answer is not a decision (transport error, HTTP status, malformed answer) fails the whole call.
func Verify(ctx context.Context, caPEM []byte, srv *Server, items []Item) ([]Decision, error) {
	client := NewClientFor(caPEM, srv.ServerName)
	defer client.CloseIdleConnections()
	var buf bytes.Buffer
	out := make([]Decision, len(items))
	for i, it := range items {
		status, body, err := Send(ctx, client, srv.URL, it.Body, &buf)
		if err == nil {
			out[i], err = ParseAnswer(status, body, it.UID)
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %s on %q: %w", srv.Name, it.Name, err)
		}
	}
	return out, nil
}

// Mismatch is one item on which two servers decided differently.
type Mismatch struct {
	Item      string
	Got, Want Decision
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s:\n  got  %s\n  want %s", m.Item, m.Got, m.Want)
}

// Compare lists the items whose decisions in got differ from want.
func Compare(items []Item, got, want []Decision) []Mismatch {
	var out []Mismatch
	for i, it := range items {
		if !got[i].Equal(want[i]) {
			out = append(out, Mismatch{Item: it.Name, Got: got[i], Want: want[i]})
		}
	}
	return out
}

// Allows is [Allow] for every item: what the no-op must answer.
func Allows(items []Item) []Decision {
	out := make([]Decision, len(items))
	for i := range out {
		out[i] = Allow
	}
	return out
}
