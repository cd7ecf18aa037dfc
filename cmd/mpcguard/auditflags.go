package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/dynamic"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/mpcguard/mpcguard/internal/audit"
	"github.com/mpcguard/mpcguard/webhook"
)

// auditFlags configure the webhook's periodic audit of existing objects.
type auditFlags struct {
	interval       time.Duration
	leaseNamespace string
	leaseName      string
	reports        bool
}

func (a *auditFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&a.interval, "audit-interval", 0,
		"audit the existing objects of --namespaces this often, on one replica at a time (a Lease); 0 turns the audit off")
	fs.StringVar(&a.leaseNamespace, "audit-lease-namespace", "",
		"namespace of the audit's Lease (default $POD_NAMESPACE, else default)")
	fs.StringVar(&a.leaseName, "audit-lease-name", "mpcguard-audit", "name of the audit's Lease")
	fs.BoolVar(&a.reports, "audit-reports", true,
		"write the audit's openreports.io/v1alpha1 Report (mpcguard-audit) in each audited namespace")
}

// runner is the audit of a webhook server: its policies, configuration and live inventory.
func (a *auditFlags) runner(srv *webhook.Server, opts webhook.Options) (*audit.Runner, error) {
	ns := a.leaseNamespace
	if ns == "" {
		ns = strings.TrimSpace(os.Getenv("POD_NAMESPACE"))
	}
	if ns == "" {
		ns = "default"
	}
	dyn, err := dynamic.NewForConfig(opts.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("audit: client: %w", err)
	}
	leases, err := coordinationv1.NewForConfig(opts.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("audit: Lease client: %w", err)
	}
	host, _ := os.Hostname()
	r := &audit.Runner{
		Collector: audit.Collector{Client: dyn, Namespaces: opts.Namespaces},
		Engine:    srv.Engine(),
		Metrics:   audit.NewMetrics(srv.Metrics().Registry),
		Interval:  a.interval,
		Lease:     audit.Lease{Client: leases, Namespace: ns, Name: a.leaseName, Identity: host + "_" + string(uuid.NewUUID())},
		Log:       opts.Log.WithName("audit"),
	}
	if inv := srv.Inventory(); inv != nil {
		r.Inventory = inv
	}
	if a.reports {
		r.Writer = &audit.ReportWriter{Client: dyn}
	}
	return r, nil
}
