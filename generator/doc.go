// Package generator turns a typed Spec of an MPC system into two Helm charts: mpc-system (the session
// coordinator, a persistent and any delegate or temporary party pools, discovery RBAC, placement,
// NetworkPolicies, and the admission side as a dependency) and mpcguard (the admission side alone: the
// validating webhook, its RBAC, its certificates and the MPCSession CRD).
//
// Like Helm's chartutil.Create, Generate builds a list of files, each a path and its content, and Write puts
// them on disk. Nothing is produced by editing YAML text: Chart.yaml comes from Helm's chart.Metadata, the
// values files, values.schema.json and the README values table from the typed values of values.go (package
// valuesdoc), the CRD from internal/api/v1alpha1, and the templates are Helm templates embedded verbatim
// from templates/. The one generated template, the mpcguard chart's templates/_vocab.tpl, hands the templates
// what package policies/vocab says: the webhook entries and their rules (vocab.Routes), the policy ids and the
// policies that need named share storage, so that a new route or policy touches vocab only. The values schema
// takes the policy ids and enforcement actions from vocab too. The output is deterministic: the same Spec gives
// byte-identical files.
//
// Decode reads a spec strictly (an unknown field is an error with its path) and Spec.Validate returns every
// problem with its field path, including the cross-field ones: fewer persistent parties than the default t is
// an error, delegate plus temporary parties reaching t a warning.
//
// Thresholds are t-of-n throughout: any t of the n parties can sign; tss-lib's threshold parameter is t-1.
package generator
