package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Path is where the no-op webhook answers, as `mpcguard webhook` does.
const Path = "/validate"

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 9444, "HTTPS port of "+Path)
	certDir := flag.String("cert-dir", "", "directory holding tls.crt and tls.key")
	flag.Parse()
	log.SetLogger(logr.Discard()) // nothing per request, as mpcguard logs nothing per request
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *host, *port, *certDir); err != nil {
		fmt.Fprintln(os.Stderr, "noop:", err)
		os.Exit(1)
	}
}

// allowAll is the handler: every review is allowed, with no message and no warning.
var allowAll = admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
	return admission.Allowed("")
})

func run(ctx context.Context, host string, port int, certDir string) error {
	if certDir == "" {
		return fmt.Errorf("--cert-dir is required")
	}
	srv := webhook.NewServer(webhook.Options{
		Host:     host,
		Port:     port,
		CertDir:  certDir,
		CertName: "tls.crt",
		KeyName:  "tls.key",
		TLSOpts:  []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }},
	})
	srv.Register(Path, &admission.Webhook{Handler: allowAll})
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
