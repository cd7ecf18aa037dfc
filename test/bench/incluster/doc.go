// Command incluster measures mpcguard where it runs for a user: the chart's webhook Deployment (two replicas,
// the chart's resources) on the harness's real node, behind its Service. It brings up mpc-system as `make demo`
// does (scenario.UpInCluster: `make publish` to a loopback registry, a control plane and a real node, `helm
// install` from oci://…@digest), then sends the side-by-side benchmark's mix of AdmissionReviews from this
// host, over TLS with one keep-alive connection per client and the certificate verified against the release's
// CA for <service>.<namespace>.svc:
//
//   - to the Service's ClusterIP (kube-proxy spreads the connections over both pods) at 1, 4, 16, 64 and 256
//     concurrent clients (--concurrency), and
//   - to one webhook pod's IP at --pod-concurrency (64), for comparison,
//
// in interleaved rounds, each cell bounded by --duration and --max-requests. It prints the side-by-side tables
// (throughput, latency percentiles, the pods' CPU per request and the sum of their peak RSS, read from their
// processes on this machine, the load generator's CPU per request) and the scaling curve. Before the load each
// pod and the Service answer the mix once; every answer under load must equal those (the in-cluster webhook
// runs the chart's configuration and its inventory, so its decisions are its own, not the local benchmark's).
//
//	sudo go run ./test/bench/incluster                      # make bench-incluster
//	sudo go run ./test/bench/incluster --duration 5s --rounds 2 --concurrency 64,256 -o json
//	sudo go run ./test/bench/incluster --webhook-cpu-limit 1   # each pod may use a whole CPU (the chart: 500m)
//
// It needs root and the tools of `make tools`; it waits for the machine's real node (one at a time). Tables go
// to stdout, progress to stderr. It exits 1 when a request fails or an answer differs, 130 when interrupted;
// the cluster and the registry are stopped on every exit.
package main
