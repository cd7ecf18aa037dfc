// Package policies embeds mpcguard's Rego modules (the ten policies of design.md and the main module that
// turns their violations into a decision). README.md beside this file is the contract between the Go code
// that builds the input and the Rego that reads it. The *_test.rego files are opa test suites, not embedded
// into the evaluator.
package policies
