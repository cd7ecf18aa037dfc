// Package defense tests mpcguard's native policies (ValidatingAdmissionPolicies in CEL, package
// policies/native) on a real kube-apiserver v1.36.3 (test/cluster), where they answer for the party rules
// when the webhook cannot:
//
//   - outage without lock-up (outage_test.go): with the native policies installed as API objects, the webhook's
//     pod, workload and storage entries can fail open (failurePolicy Ignore) while its MPCSession entry, which
//     carries the inventory check, stays fail-closed. With the webhook process stopped, party pods without a
//     valid role and sessions whose non-persistent parties reach t are still rejected, by the policies and with
//     their ids; ordinary pods and Deployments in the checked namespace are admitted and become Ready; every
//     other MPCSession is refused because the webhook cannot be called.
//   - rules that cannot be deleted (static_test.go): the same policies as a manifest-based admission bundle
//     (KEP-5793, `mpcguard bundle`, package internal/bundle), loaded by an API server started with the
//     ManifestBasedAdmissionControlConfig feature gate. They enforce from the first request, are no API objects
//     (GET, DELETE: NotFound; CREATE of the reserved name: Invalid), and stay in force when every webhook
//     configuration, policy and binding the API holds is deleted and the webhook is stopped.
//
// Each test starts its own control plane (about 10 s) and measures rather than times: counts and latencies are
// logged for the README's figures, never asserted against a clock.
package defense
