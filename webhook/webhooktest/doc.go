// Package webhooktest runs a webhook.Server in the test process, as net/http/httptest runs an HTTP server: it
// starts the server for the length of a test and, in t.Cleanup, stops it and fails the test unless it stopped
// cleanly and in time.
package webhooktest
