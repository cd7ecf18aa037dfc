// Package certs makes a self-signed CA and serving certificates: for running the webhook outside a cluster
// (tests, the local demo), where the API server trusts the CA through the webhook configuration's caBundle, and
// for the webhook's own rotator (--cert-mode=rotate), which keeps its CA and serving pair in a Secret.
package certs
