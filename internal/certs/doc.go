// Package certs makes a self-signed CA and serving certificates for running the webhook outside a cluster
// (tests, the local demo): the API server trusts the CA through the webhook configuration's caBundle.
package certs
