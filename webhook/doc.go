// Package webhook serves mpcguard's policies to the Kubernetes API server as a validating admission webhook.
//
// One path, /validate, takes AdmissionReviews (admission.k8s.io/v1 and v1beta1) for every kind. The handler
// only orchestrates: it decodes the review, hands the request to the shared policy engine (policies/engine,
// the only code that knows the policy input) with the party-pod inventory, and turns the decision into a
// response — all violated deny-mode policies joined into one denial, warn-mode ones and skipped checks as
// warnings. Input it cannot read is answered with HTTP 400 and a message; an evaluation failure or blown
// deadline with HTTP 500, so the API server's failurePolicy decides and nothing is silently allowed.
//
// Server serves the handler over HTTPS (certificates reloaded when they change, by controller-runtime's
// certificate watcher) and drains it on shutdown without dropping a review it accepted; it serves /healthz
// and /readyz (ready once policies compiled, certificates loaded and the inventory synced) and /metrics on
// their own ports, and runs the inventory: a controller-runtime cache of party pods with an index of Ready
// persistent pods per namespace.
package webhook
