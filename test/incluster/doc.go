// Package incluster proves the charts the way users run them: mpc-system installed with the helm CLI from a
// local OCI registry (published there by `make publish`, the webhook image pinned by digest), on a cluster
// with a real node (test/cluster's RealNode), so that the chart's own webhook Deployment runs in the cluster
// from the pulled image, the API server calls it through its Service with the chart's self-signed
// certificate, the webhook's inventory reads pods with its own ServiceAccount, the coordinator stand-in
// discovers parties from inside its pod with the chart's RBAC, and `helm test` runs real test pods.
//
// It needs root and the tools of `make tools` (the real node's among them); `make test` runs it.
package incluster
