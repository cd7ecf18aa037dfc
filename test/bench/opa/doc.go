// Package opa runs mpcguard's policies on OPA's own server, the classic OPA admission set-up, for the
// side-by-side benchmark: wrapper.rego is OPA's default decision (data.system.main, served at POST / with the
// AdmissionReview as input). It builds the policy input of policies/README.md from input.request as
// policies/engine does for `mpcguard webhook --inventory=false`, evaluates data.mpcguard.main.violation with
// it, and does in Rego what the engine does in Go: it names the object in front of each bare message and sorts
// the violations into denials and warnings by the configured enforcement. It answers an AdmissionReview as the
// webhook does. [Write] lays out what `opa run --server` loads: the policy modules, the wrapper and a data file
// giving data.mpcguard.config exactly as the Go engine builds it (the enforcement the wrapper reads included).
//
// direct.rego is the other OPA set-up, the one OPA's admission-control tutorial uses: the same rules written
// straight against input.request, with no intermediate input and no `with` ([WriteDirect]).
package opa
