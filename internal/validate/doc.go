// Package validate applies mpcguard's policies to manifests offline — multi-document YAML or JSON such as
// `helm template` output — evaluating every object as a CREATE with the same engine the webhook uses, so CI
// catches what admission would reject. Unreadable input is reported with its file, document and line, and
// never stops the other documents from being checked.
package validate
