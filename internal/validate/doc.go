// Package validate applies mpcguard's policies to manifests offline — multi-document YAML or JSON such as
// `helm template` output — evaluating every object as a CREATE with the same engine the webhook uses, so CI
// catches what admission would reject.
//
// No object is missed silently. A v1 List, and any typed list (PodList, DeploymentList, MPCSessionList, …)
// with items, is expanded, lists in lists too: each item is evaluated as an object of its own, named by its
// document and its place in it ("items[0].items[2]"). An item of a typed list that names neither apiVersion
// nor kind is of the list's kind without "List" (a PodList's items are Pods), as kubectl reads typed lists.
// A stream of JSON values (`{...}{...}` or one per line, as `jq -c` or several `kubectl get -o json` write)
// is read value by value, each value counting as a document.
//
// Unreadable input — malformed YAML or JSON, anything after a JSON value that is not one, a document or list
// item that is not a mapping with apiVersion and kind — is reported with its file, document, line and item,
// and never stops the other documents from being checked.
package validate
