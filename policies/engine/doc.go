// Package engine is mpcguard's policy engine, shared by the admission webhook and the offline validator so
// both give identical decisions: it compiles the embedded Rego modules once (New), turns a Kubernetes object
// into the policy input (the only code that knows the wire format; see policies/README.md), and evaluates a
// prepared query per object (Engine.Review), returning denials, warnings and skipped checks, each with its
// policy id.
package engine
