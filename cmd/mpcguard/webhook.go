package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/webhook"
)

func newWebhookCmd() *cobra.Command {
	var (
		pf         policyFlags
		opts       webhook.Options
		namespaces []string
		kubeconfig string
		logLevel   string
		au         auditFlags
		cacheSize  int
		certMode   string
		rotation   webhook.CertRotation
	)
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Serve the policies as a validating admission webhook at https://HOST:PORT/validate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := pf.config()
			if err != nil {
				return fmt.Errorf("webhook: %w", err)
			}
			opts.Policy = cfg
			if opts.Modules, err = pf.modules(); err != nil {
				return fmt.Errorf("webhook: %w", err)
			}
			opts.Namespaces = engine.Names(namespaces)
			// Unless given, the probe and metrics listeners follow --host, so a webhook bound to loopback
			// stays entirely on loopback.
			if !cmd.Flags().Changed("health-addr") {
				opts.HealthAddr = net.JoinHostPort(opts.Host, "8081")
			}
			if !cmd.Flags().Changed("metrics-addr") {
				opts.MetricsAddr = net.JoinHostPort(opts.Host, "8080")
			}
			if opts.DecisionLog.Burst < 1 {
				return fmt.Errorf("webhook: --decision-log-burst must be at least 1, got %d", opts.DecisionLog.Burst)
			}
			if !(opts.DecisionLog.Rate > 0) {
				return fmt.Errorf("webhook: --decision-log-rate must be above 0, got %v", opts.DecisionLog.Rate)
			}
			if cacheSize < 0 {
				return fmt.Errorf("webhook: --decision-cache-size must be 0 (off) or more, got %d", cacheSize)
			}
			opts.EngineOptions = append(opts.EngineOptions, engine.WithCacheSize(cacheSize))
			log, err := webhook.NewLogger(os.Stderr, logLevel)
			if err != nil {
				return fmt.Errorf("webhook: --log-level: %w", err)
			}
			ctrl.SetLogger(log)
			opts.Log = log.WithName("mpcguard")
			if len(cfg.ShareStorage.SecretNames)+len(cfg.ShareStorage.ClaimPrefixes) == 0 {
				opts.Log.Info("no share storage configured (--share-secret-names, --share-claim-prefixes): "+
					"these policies check nothing until it is", "inert", []string{vocab.DelegateNoShareStorage,
					vocab.ShareStorageCopy, vocab.ShareStoragePersistentOnly})
			}
			if len(cfg.PersistentWorkloads) == 0 {
				opts.Log.Info("no --persistent-workloads: any StatefulSet may run persistent parties "+
					"(their pods must still come from a controller identity)", "policy", vocab.PartyPersistentOrigin)
			}
			switch certMode {
			case certModeFiles:
			case certModeRotate:
				if rotation.Namespace == "" {
					return fmt.Errorf("webhook: --cert-mode=%s needs --namespace (or POD_NAMESPACE): the namespace of --cert-secret", certModeRotate)
				}
				opts.CertRotation = &rotation
			default:
				return fmt.Errorf("webhook: --cert-mode must be %s or %s, got %q", certModeFiles, certModeRotate, certMode)
			}
			if opts.Inventory || au.interval > 0 || opts.CertRotation != nil {
				if opts.RESTConfig, err = restConfig(kubeconfig); err != nil {
					return fmt.Errorf("webhook: the inventory, the audit and --cert-mode=%s need a cluster "+
						"(or --inventory=false --audit-interval=0 --cert-mode=%s): %w", certModeRotate, certModeFiles, err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			srv, err := webhook.New(ctx, opts)
			if err != nil {
				return err
			}
			if au.interval > 0 {
				runner, err := au.runner(srv, opts)
				if err != nil {
					return fmt.Errorf("webhook: %w", err)
				}
				actx, stopAudit := context.WithCancel(ctx)
				done := make(chan struct{})
				defer func() { stopAudit(); <-done }() // the Lease is released before the process exits
				go func() {
					defer close(done)
					if err := runner.Run(actx); err != nil {
						opts.Log.Error(err, "audit stopped")
					}
				}()
			}
			return srv.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Host, "host", "", "address to listen on (default all interfaces)")
	f.IntVar(&opts.Port, "port", 9443, "HTTPS port of /validate")
	f.StringVar(&opts.CertDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs",
		"directory holding tls.crt and tls.key (reloaded when they change), with --cert-mode=files")
	f.StringVar(&certMode, "cert-mode", certModeFiles, "files: serve tls.crt and tls.key of --cert-dir (cert-manager, "+
		"an existing Secret); rotate: keep a CA and serving certificate in --cert-secret and the caBundle of "+
		"--webhook-configuration current")
	f.StringVar(&rotation.SecretName, "cert-secret", "", "with --cert-mode=rotate: the Secret, in --namespace, "+
		"that holds the CA and serving certificate; it must exist (may be empty)")
	f.StringVar(&rotation.Namespace, "namespace", os.Getenv("POD_NAMESPACE"),
		"the webhook's namespace, of --cert-secret (default $POD_NAMESPACE)")
	f.StringVar(&rotation.WebhookConfiguration, "webhook-configuration", "", "with --cert-mode=rotate: the "+
		"ValidatingWebhookConfiguration whose webhooks' caBundle is kept current")
	f.StringSliceVar(&rotation.Hosts, "cert-dns-names", nil, "with --cert-mode=rotate: the serving certificate's "+
		"DNS names (and IP addresses), e.g. <service>.<namespace>.svc")
	f.DurationVar(&rotation.CAValidity, "ca-validity", webhook.DefaultCAValidity,
		"with --cert-mode=rotate: the CA's life; a new CA is made at 2/3 of it")
	f.DurationVar(&rotation.CertValidity, "cert-validity", webhook.DefaultCertValidity,
		"with --cert-mode=rotate: the serving certificate's life; it is renewed at 2/3 of it")
	f.DurationVar(&rotation.Overlap, "cert-overlap", webhook.DefaultCertOverlap, "with --cert-mode=rotate: how "+
		"long a new CA is trusted before it serves, and the previous CA after")
	f.DurationVar(&rotation.Interval, "cert-check-interval", webhook.DefaultCertCheckInterval,
		"with --cert-mode=rotate: how often the Secret and the webhook configuration are read besides watching them")
	f.StringVar(&opts.HealthAddr, "health-addr", ":8081",
		"address of /healthz and /readyz (default: --host, port 8081; \"0\" disables)")
	f.StringVar(&opts.MetricsAddr, "metrics-addr", ":8080", "address of /metrics (default: --host, port 8080; \"0\" disables)")
	f.BoolVar(&opts.Inventory, "inventory", true,
		"watch party pods for session-persistent-available; false runs without a cluster and skips that check")
	f.StringSliceVar(&namespaces, "namespaces", nil, "namespaces the inventory watches and the periodic audit audits (default all)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig for the inventory (default $KUBECONFIG or in-cluster)")
	f.DurationVar(&opts.ShutdownDelay, "shutdown-delay", 2*time.Second,
		"how long to stay up but unready after SIGTERM before draining")
	f.StringVar(&logLevel, "log-level", "info",
		"debug (also every allowed request), info (denials, warnings and what the webhook does) or error")
	f.IntVar(&opts.DecisionLog.Burst, "decision-log-burst", webhook.DefaultDecisionLogBurst,
		"decision log lines (denials, warnings) written at once before the rate applies")
	f.Float64Var(&opts.DecisionLog.Rate, "decision-log-rate", webhook.DefaultDecisionLogRate,
		"decision log lines a second after the burst; the rest are counted (mpcguard_decision_logs_suppressed_total) "+
			"and reported every 10s")
	f.IntVar(&cacheSize, "decision-cache-size", engine.DefaultCacheSize,
		"decisions memoised by the policy input they read, so identical party pods of one template share one "+
			"evaluation (mpcguard_decision_cache_hits_total, _misses_total); 0 evaluates every review")
	au.register(f)
	pf.register(f)
	return cmd
}

// The certificate modes of `mpcguard webhook` (--cert-mode).
const (
	certModeFiles  = "files"
	certModeRotate = "rotate"
)

func restConfig(kubeconfig string) (*rest.Config, error) {
	if strings.TrimSpace(kubeconfig) != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return ctrl.GetConfig()
}
