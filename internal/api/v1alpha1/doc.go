// Package v1alpha1 holds the MPCSession API (group mpc.mpcguard.io, version v1alpha1): the Go types, their
// generated deep-copy functions and the generated structural CustomResourceDefinition, embedded as CRDYAML so
// the charts ship exactly what the types describe.
//
// The threshold convention is t-of-n: any t of the n parties can sign (a "2-of-3"). tss-lib's threshold
// parameter is t-1 for the same session.
//
// +kubebuilder:object:generate=true
// +groupName=mpc.mpcguard.io
package v1alpha1
