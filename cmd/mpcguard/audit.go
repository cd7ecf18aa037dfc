package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mpcguard/mpcguard/internal/audit"
	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/webhook"
)

func newAuditCmd() *cobra.Command {
	var (
		pf          policyFlags
		kubeconfig  string
		kubecontext string
		namespaces  []string
		output      string
		timeout     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "audit [--kubeconfig FILE] [--context NAME] [--namespaces a,b]",
		Short: "Apply the admission policies to the objects already in a cluster (read-only)",
		Long: `Audit lists every pod, workload (Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob),
PersistentVolumeClaim and MPCSession of the namespaces (default: all) and evaluates each as a CREATE with the
policies the webhook enforces and the cluster's party pod inventory (the Ready persistent parties of each
namespace, from the same listing), and prints one line per violation:

  <policy-id> <Kind> <namespace>/<name>: <message>

It only reads (list on those kinds); nothing is changed. Warnings, checks that could not run (those that need
the requesting user, unknown for an existing object) and kinds the cluster does not serve go to stderr; -o
json, junit or sarif writes the whole report to stdout instead. The policy flags are validate's and the
webhook's: give the ones the cluster's webhook runs with.

Exit status: 0 nothing denied, 1 something denied, 2 the cluster cannot be read (a list failed: every failure
is named) or bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(validate.Formats, output) {
				return &exitError{code: 2, err: fmt.Errorf("audit: --output %q: want one of %s", output, strings.Join(validate.Formats, ", "))}
			}
			cfg, err := pf.config()
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("audit: %w", err)}
			}
			mods, err := pf.modules()
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("audit: %w", err)}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			eng, err := engine.New(ctx, cfg, mods)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("audit: %w", err)}
			}
			rc, where, err := kubeClientConfig(kubeconfig, kubecontext)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("audit: %w", err)}
			}
			dyn, err := dynamic.NewForConfig(rc)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("audit: client for %s: %w", where, err)}
			}
			ns := engine.Names(namespaces)
			scope := "every namespace"
			if len(ns) > 0 {
				scope = "namespaces " + strings.Join(ns, ", ")
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "auditing %s, %s\n", where, scope)
			snap := audit.Collector{Client: dyn, Namespaces: ns}.Collect(ctx)
			// The inventory is the pods just listed, indexed as the webhook's cache indexes them: the
			// cluster at the moment of the audit. Without every pod list, there is none, and the check
			// that needs it is reported as not run rather than judged on a partial count.
			var inv engine.Inventory
			if snap.PodsListed {
				pods, err := snap.Pods()
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("audit: %w", err)}
				}
				live := webhook.NewInventory(cfg)
				live.Load(ns, pods)
				inv = live
			}
			res := audit.Evaluate(ctx, eng, inv, snap)
			if err := validate.Write(output, cmd.OutOrStdout(), cmd.ErrOrStderr(), res.Report, version); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("audit: writing report: %w", err)}
			}
			switch {
			case len(res.Errors) > 0:
				return &exitError{code: 2}
			case res.Denied() > 0:
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&kubecontext, "context", "", "kubeconfig context (default its current context)")
	f.StringSliceVar(&namespaces, "namespaces", nil, "namespaces to audit, comma-separated (default all)")
	f.StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(validate.Formats, ", "))
	f.DurationVar(&timeout, "timeout", 5*time.Minute, "give up on the audit after this long")
	pf.register(f)
	return cmd
}

// kubeClientConfig reads a kubeconfig as kubectl does (--kubeconfig, else $KUBECONFIG, else ~/.kube/config),
// with an optional context, and names the cluster for messages.
func kubeClientConfig(kubeconfig, kubecontext string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubecontext})
	rc, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			err = errors.Join(err, errors.New("give --kubeconfig or set KUBECONFIG"))
		}
		return nil, "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	where := "cluster " + rc.Host
	if raw, err := cc.RawConfig(); err == nil {
		name := kubecontext
		if name == "" {
			name = raw.CurrentContext
		}
		if name != "" {
			where += " (context " + name + ")"
		}
	}
	return rc, where, nil
}
