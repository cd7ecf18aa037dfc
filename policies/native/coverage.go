package native

import (
	"slices"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Coverage says whether a policy of vocab.Policies has a native form and, when it has none, why.
type Coverage struct {
	ID string
	// Native is true when Policies generates a ValidatingAdmissionPolicy for the id.
	Native bool
	// Why the policy has no native form (empty when it has one).
	Why string
}

// excluded are the policies with no native form, and why. Every other policy of vocab.Policies has one; a test
// holds the two lists to vocab.
var excluded = map[string]string{
	vocab.SessionPersistentAvailable: "needs the cluster inventory (how many persistent parties are Ready); CEL sees only the request",
	vocab.PartyAccess:                "needs the cluster inventory (the role of the pod a CONNECT reaches; a CONNECT carries only its options)",
	vocab.ShareDeletion:              "an allowed break-glass deletion is answered with a warning, which a ValidatingAdmissionPolicy cannot give on an allowed request",
}

// Table lists every built-in policy with its coverage, in the order of vocab.Policies.
func Table() []Coverage {
	out := make([]Coverage, 0, len(vocab.Policies))
	for _, p := range vocab.Policies {
		why, ok := excluded[p.ID]
		out = append(out, Coverage{ID: p.ID, Native: !ok, Why: why})
	}
	return out
}

// IDs lists the policy ids that have a native form, in the order of vocab.Policies.
func IDs() []string {
	var out []string
	for _, c := range Table() {
		if c.Native {
			out = append(out, c.ID)
		}
	}
	return out
}

// Covers reports whether id has a native form.
func Covers(id string) bool { return slices.Contains(IDs(), id) }
