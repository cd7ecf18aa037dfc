// Package native derives Kubernetes ValidatingAdmissionPolicies (CEL, admissionregistration.k8s.io/v1, GA
// since Kubernetes 1.30) from the same rule table as the Rego policies (package policies/vocab): one policy
// per policy id that needs no cluster inventory and nothing else CEL cannot see (it sees the requesting user), with the
// same id and an equivalent message, and one binding whose validationActions follow the policy's enforcement
// (deny: Deny, warn: Warn, off: no policy and no binding).
//
// They run inside the API server, so they cannot be down: with them, a webhook that fails open (failurePolicy
// Ignore) or is unreachable still leaves the party-role and session rules enforced. The webhook remains the
// full set (inventory, CONNECT and break-glass deletion rules) and the one that explains the most; test/native holds
// the two to the same decisions on the real API server.
//
// [Policies] bakes the configured values into the CEL expressions as literals (for static manifests and
// tests); [PoliciesWithLiterals] takes the literals as text, which the generator writes as Helm expressions over
// the chart's values. Both come from one builder, so the chart and the static bundle cannot drift apart.
package native
