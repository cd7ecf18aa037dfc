// Package scenario is the demo's story on a local cluster, shared by `make demo` (which prints it), the
// in-cluster test (test/incluster) and the end-to-end tests in test/e2e (which assert it). It comes up two ways:
//
//   - [UpInCluster], as a user installs it (`make demo`, test/incluster): a loopback OCI registry filled by
//     `make publish`, a control plane with a real node from test/cluster, and mpc-system installed with the helm
//     CLI from oci://, its webhook running in the cluster from the pushed image, by digest, and called by the API
//     server through its Service;
//   - [Up], fast and wide (test/e2e): a control plane with KWOK's fake nodes, `mpcguard webhook` as a local
//     process on 127.0.0.1, and charts/mpc-system installed with the Helm SDK, its ValidatingWebhookConfiguration
//     reaching the webhook by URL (values mpcguard.webhook.url and caBundle).
//
// [Env.Down] takes either down; the other methods are the scenarios, each returning what happened (placements,
// access decisions, the API server's errors, the coordinator's discovery) for the caller to show or check.
package scenario
