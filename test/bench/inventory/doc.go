// Command inventory measures MPCSession admission against the webhook's party pod inventory at two sizes, on a
// real API server:
//
//	go run ./test/bench/inventory            # 10, then 10,000 Ready persistent party pods
//	go run ./test/bench/inventory --pods 2000 --duration 2s
//
// It starts etcd and kube-apiserver from the tool cache (envtest, everything on 127.0.0.1; `make tools` builds
// them), creates a namespace with 10 persistent party pods (labels app.kubernetes.io/component=mpc-party and
// party-role=persistent, bound to a fake node, their status set Ready through the status subresource: no
// scheduler, no KWOK), and runs `mpcguard webhook` on it with its inventory watching the namespace
// ($MPCGUARD_BIN, or built from the checkout). It then sends a bounded HTTPS load of MPCSession
// AdmissionReviews straight to the webhook on 127.0.0.1 — the same mix of allowed and denied sessions at
// concurrency 1 and 16, each run bounded by a duration and a request count — creates the remaining pods with
// concurrent workers, waits until the inventory counts exactly 10,000 (a probe session needing that many
// persistent parties is allowed, one needing one more is denied), and sends the same load again.
//
// It prints how long the pods took to create, the webhook's memory (VmRSS and peak VmHWM) at both sizes, a
// table of p50, p99 and throughput per size and concurrency, and the ratios 10,000/10: with the inventory an
// index, a session's admission costs the same at both sizes. Everything stops on exit, error or Ctrl-C; the
// whole run is bounded by --timeout.
package main
