// Package scenario is the demo's story on a local cluster, shared by `make demo` (which prints it) and the
// end-to-end tests in test/e2e (which assert it): a control plane from test/cluster, `mpcguard webhook` as a
// local process on 127.0.0.1, and charts/mpc-system installed with the Helm SDK, its
// ValidatingWebhookConfiguration reaching the webhook by URL (values mpcguard.webhook.url and caBundle).
//
// [Up] brings the whole thing up and [Env.Down] takes it down; the other methods are the scenarios, each
// returning what happened (placements, access decisions, the API server's errors) for the caller to show or
// check.
package scenario
