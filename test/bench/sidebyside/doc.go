// Command sidebyside loads `mpcguard webhook --inventory=false`, OPA's own server running the same policies
// behind the classic admission wrapper, and a no-op controller-runtime webhook with the same mix of
// AdmissionReviews, in interleaved rounds, and prints throughput, latency percentiles, peak RSS and server CPU
// per request for each server and concurrency, mpcguard's ratios to the other two, and whether mpcguard and
// OPA decided every request identically. Tables go to stdout, progress to stderr. See package bench.
//
//	go run ./test/bench/sidebyside                                  # 3 rounds x 3 s per cell, concurrency 1,16,64
//	go run ./test/bench/sidebyside --duration 10s --rounds 5 -o json
//	MPCGUARD_BIN=bin/mpcguard go run ./test/bench/sidebyside        # this binary instead of ./cmd/mpcguard
//
// Without MPCGUARD_BIN (or --mpcguard), ./cmd/mpcguard and the no-op are installed with go install into
// $MPCGUARD_CACHE/bench (~/.cache/mpcguard/bench), relinked only when they change; opa comes from the tool
// cache, built by test/tools/build.sh if missing.
//
// It exits 1 when mpcguard and OPA decide any request differently or a request fails, 130 when interrupted.
// The servers are stopped on exit and on SIGINT or SIGTERM, and killed by the kernel if this process dies.
package main
