package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// Lease configures the leader election that keeps exactly one replica auditing.
type Lease struct {
	Client    coordinationv1.LeasesGetter
	Namespace string
	Name      string
	// Identity names this replica in the Lease (its pod name, and something unique to the process).
	Identity string
	// Duration, RenewDeadline and RetryPeriod are client-go's; zero values are controller-runtime's defaults
	// (15s, 10s, 2s).
	Duration, RenewDeadline, RetryPeriod time.Duration
}

// Runner audits on an interval while it holds the Lease.
type Runner struct {
	Collector Collector
	Engine    *engine.Engine
	// Inventory is the webhook's live party pod inventory (nil: none; session-persistent-available is then
	// reported as skipped). A run waits until it has synced.
	Inventory engine.Inventory
	// Writer keeps the Reports; nil writes none.
	Writer   *ReportWriter
	Metrics  *Metrics
	Interval time.Duration
	Lease    Lease
	Log      logr.Logger
}

// synced is what the webhook's inventory offers besides engine.Inventory.
type synced interface{ Synced() bool }

// Run campaigns for the Lease until ctx ends; while it leads, it audits at once and then every Interval. A
// replica that loses the Lease stops auditing and campaigns again. The Lease is released when ctx ends, so a
// rolling update hands the audit over without waiting for the Lease to expire.
func (r *Runner) Run(ctx context.Context) error {
	if r.Interval <= 0 {
		return fmt.Errorf("audit: interval %s: want a positive interval", r.Interval)
	}
	l := r.Lease
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: l.Namespace, Name: l.Name},
		Client:     l.Client,
		LockConfig: resourcelock.ResourceLockConfig{Identity: l.Identity},
	}
	cfg := leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   or(l.Duration, 15*time.Second),
		RenewDeadline:   or(l.RenewDeadline, 10*time.Second),
		RetryPeriod:     or(l.RetryPeriod, 2*time.Second),
		ReleaseOnCancel: true,
		Name:            l.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: r.lead,
			OnStoppedLeading: func() {
				if r.Metrics != nil {
					r.Metrics.Leader.Set(0)
				}
				r.Log.Info("audit: not leading (the Lease is held elsewhere or was released)", "lease", l.Namespace+"/"+l.Name)
			},
			OnNewLeader: func(id string) {
				if id != l.Identity {
					r.Log.Info("audit: another replica leads", "leader", id)
				}
			},
		},
	}
	le, err := leaderelection.NewLeaderElector(cfg)
	if err != nil {
		return fmt.Errorf("audit: leader election on Lease %s/%s: %w", l.Namespace, l.Name, err)
	}
	for ctx.Err() == nil {
		le.Run(ctx)
	}
	return nil
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// lead audits until ctx (the leadership) ends.
func (r *Runner) lead(ctx context.Context) {
	if r.Metrics != nil {
		r.Metrics.Leader.Set(1)
	}
	r.Log.Info("audit: leading; auditing existing objects", "interval", r.Interval, "namespaces", r.Collector.Namespaces)
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		// The first audit waits for the party pod inventory (polling each second, not a whole interval).
		for s, ok := r.Inventory.(synced); ok && !s.Synced(); {
			r.Log.V(1).Info("audit: waiting for the party pod inventory to sync before auditing")
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		// Once logs and counts what failed; the next tick tries again.
		_, _ = r.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once runs one audit: collect, evaluate, write the Reports, record the metrics. It returns the result and
// what failed (lists, evaluations, Reports).
func (r *Runner) Once(ctx context.Context) (Result, error) {
	start := time.Now()
	res := Evaluate(ctx, r.Engine, r.Inventory, r.Collector.Collect(ctx))
	var errs []error
	for _, e := range res.Errors {
		errs = append(errs, e)
	}
	if r.Writer != nil && ctx.Err() == nil {
		if err := r.Writer.Write(ctx, res, time.Now()); err != nil {
			errs = append(errs, fmt.Errorf("writing Reports: %w", err))
		}
	}
	err := errors.Join(errs...)
	took := time.Since(start)
	if r.Metrics != nil {
		r.Metrics.Observe(res, time.Now(), took, err != nil)
	}
	if err != nil {
		r.Log.Error(err, "audit: run incomplete", "objects", len(res.Objects), "violations", res.Violations())
	}
	r.Log.Info("audit: run done", "objects", len(res.Objects), "violations", res.Violations(),
		"denied", res.Denied(), "duration", took.Round(time.Millisecond))
	return res, err
}
