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
			if opts.Inventory || au.interval > 0 {
				if opts.RESTConfig, err = restConfig(kubeconfig); err != nil {
					return fmt.Errorf("webhook: the inventory and the audit need a cluster (or --inventory=false --audit-interval=0): %w", err)
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
		"directory holding tls.crt and tls.key (reloaded when they change)")
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

func restConfig(kubeconfig string) (*rest.Config, error) {
	if strings.TrimSpace(kubeconfig) != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return ctrl.GetConfig()
}
