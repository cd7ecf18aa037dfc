// Command sidebyside loads `mpcguard webhook --inventory=false`, the same without its decision cache
// (mpcguard-uncached: --decision-cache-size=0, every review evaluated), and four baselines with the same mix of
// AdmissionReviews, in interleaved rounds: OPA's own server with the same rules written directly against
// input.request (opa-direct, the set-up of OPA's admission tutorial), OPA's server running the policy modules
// behind the classic admission wrapper (opa), the floor — net/http and crypto/tls answering a fixed allow
// without decoding (floor) — and a no-op controller-runtime webhook (no-op). It prints throughput, latency
// percentiles, peak RSS, server and client CPU per request for each server and concurrency, mpcguard's ratios to
// the others, an optional scaling curve (--scaling: further concurrencies for --scaling-servers only), and
// whether mpcguard, mpcguard-uncached and both OPA set-ups decided every request identically. Tables go to stdout, progress to
// stderr. See package bench.
//
//	go run ./test/bench/sidebyside                                  # 3 rounds x 3 s per cell, concurrency 1,16,64
//	go run ./test/bench/sidebyside --concurrency 64 --scaling 1,4,16,256   # mpcguard's curve, the rest at 64
//	go run ./test/bench/sidebyside --pin-servers 1 --pin-client 0   # servers on CPU 1, the load generator on CPU 0
//	go run ./test/bench/sidebyside --duration 10s --rounds 5 -o json
//	MPCGUARD_BIN=bin/mpcguard go run ./test/bench/sidebyside        # this binary instead of ./cmd/mpcguard
//
// Without MPCGUARD_BIN (or --mpcguard), ./cmd/mpcguard, the floor and the no-op are installed with go install
// into $MPCGUARD_CACHE/bench (~/.cache/mpcguard/bench), relinked only when they change; opa comes from the tool
// cache, built by test/tools/build.sh if missing.
//
// It exits 1 when mpcguard and mpcguard-uncached or an OPA set-up decide any request differently or a request fails, 130 when
// interrupted. The servers are stopped on exit and on SIGINT or SIGTERM, and killed by the kernel if this
// process dies.
package main
