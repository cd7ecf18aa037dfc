// Package generator turns the values of the mpc-system chart, the one model of an MPC system, into two Helm
// charts: mpc-system (the session coordinator, a persistent and any delegate or temporary party pools,
// discovery RBAC, placement, NetworkPolicies, and the admission side as a dependency) and mpcguard (the
// admission side alone: the validating webhook, its RBAC, its certificates and the MPCSession CRD).
//
// SystemValues (values.go) is the model: its field doc comments become values.yaml's comments, the
// descriptions of values.schema.json and the README's values table (package valuesdoc; values_docs.go carries
// them into the binary and is rewritten by `go generate`). A spec is a values file of the chart, applied over
// the default preset by Load; the presets are values files (presets/). Like Helm's chartutil.Create, Generate
// builds a list of files, each a path and its content, and Write puts them on disk, removing only files it
// wrote before. Chart.yaml comes from Helm's chart.Metadata, the CRD from internal/api/v1alpha1, the READMEs
// from readme/*.md.tmpl, and the templates are Helm templates embedded verbatim from templates/ (with
// templates/_shared/ written into both charts under each chart's prefix). The one generated template, the
// mpcguard chart's templates/_vocab.tpl, hands the templates what package policies/vocab says.
//
// The rules that span values live once, in the charts' validation templates; Generate checks a spec by
// rendering the generated charts with the Helm SDK, as `helm install` would, and reports each failure at the
// path of its value. The output is deterministic: the same values give byte-identical files.
//
// Thresholds are t-of-n throughout: any t of the n parties can sign; tss-lib's threshold parameter is t-1.
package generator
