package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/test/bench"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// burstLabel tells the pods of one burst apart.
const burstLabel = "bench.mpcguard.io/burst"

// podBurst is what a Deployment burst did.
type podBurst struct {
	admitted     int           // pods the API server created
	wall         time.Duration // from the Deployment's create to the last pod's
	ready        time.Duration // from the Deployment's create until every pod was Ready; 0 if not within the bound
	failedCreate int32         // the ReplicaSet controller's FailedCreate events
	firstFailure string
}

// partyDeployment is a pool of delegate parties: valid role, no share storage, restricted security context.
func partyDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{
		"app.kubernetes.io/name":       "mpc-burst",
		"app.kubernetes.io/instance":   name,
		scenario.ComponentLabel:        scenario.PartyComponent,
		scenario.RoleLabel:             "delegate",
		burstLabel:                     name,
		"app.kubernetes.io/managed-by": "mpcguard-bench",
	}
	spec := scenario.RestrictedPodSpec("ghcr.io/mpcguard/mpc-server-party:0.1.0")
	spec.AutomountServiceAccountToken = ptr.To(false)
	spec.EnableServiceLinks = ptr.To(false)
	spec.TerminationGracePeriodSeconds = ptr.To[int64](0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{burstLabel: name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

// burstPods creates the Deployment and watches its pods until all replicas exist (the wall time) and are
// Ready (bounded by readyWithin; the burst is not failed for pods still starting).
func burstPods(ctx context.Context, cs kubernetes.Interface, name string, replicas int, readyWithin time.Duration) (podBurst, error) {
	var b podBurst
	// A retry watcher: on a loaded machine the API server may close a watch whose reader falls behind; this
	// one resumes from the last resource version it saw, so no event is lost and none is late by a relist.
	sel := burstLabel + "=" + name
	list, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return b, fmt.Errorf("listing the pods of %s: %w", name, err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = sel
			return cs.CoreV1().Pods(namespace).Watch(ctx, opts)
		}})
	if err != nil {
		return b, fmt.Errorf("watching the pods of %s: %w", name, err)
	}
	defer w.Stop()
	start := time.Now()
	if _, err := cs.AppsV1().Deployments(namespace).Create(ctx, partyDeployment(name, int32(replicas)), metav1.CreateOptions{}); err != nil {
		return b, fmt.Errorf("creating Deployment %s: %w", name, err)
	}
	seen, ready := map[string]bool{}, map[string]bool{}
	admitBound := time.NewTimer(2 * time.Minute)
	defer admitBound.Stop()
	var readyBound <-chan time.Time
	for len(ready) < replicas {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return b, fmt.Errorf("the watch of %s's pods ended early (%d created, %d Ready)", name, len(seen), len(ready))
			}
			if ev.Type == watch.Error {
				return b, fmt.Errorf("watching the pods of %s: %w", name, apierrors.FromObject(ev.Object))
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted {
				continue
			}
			if !seen[pod.Name] {
				seen[pod.Name] = true
				if len(seen) == replicas {
					b.wall = time.Since(start)
					t := time.NewTimer(readyWithin)
					defer t.Stop()
					readyBound = t.C
				}
			}
			if scenario.PodReady(pod) {
				ready[pod.Name] = true
			}
		case <-admitBound.C:
			if len(seen) < replicas {
				b.admitted = len(seen)
				return b, fmt.Errorf("only %d of %d pods of %s created within 2m", len(seen), replicas, name)
			}
		case <-readyBound:
			bench.Step("%d of %d pods of %s Ready after %s; going on", len(ready), replicas, name, readyWithin)
			b.admitted = len(seen)
			return b, failedCreates(ctx, cs, name, &b)
		case <-ctx.Done():
			return b, ctx.Err()
		}
	}
	b.admitted, b.ready = len(seen), time.Since(start)
	return b, failedCreates(ctx, cs, name, &b)
}

// failedCreates counts the FailedCreate events of the Deployment's ReplicaSets.
func failedCreates(ctx context.Context, cs kubernetes.Interface, name string, b *podBurst) error {
	events, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
	if err != nil {
		return fmt.Errorf("listing FailedCreate events: %w", err)
	}
	for _, ev := range events.Items {
		if strings.HasPrefix(ev.InvolvedObject.Name, name+"-") {
			b.failedCreate += max(ev.Count, 1)
			if b.firstFailure == "" {
				b.firstFailure = ev.Message
			}
		}
	}
	return nil
}

// sessionBurst is what the MPCSession burst did.
type sessionBurst struct {
	created, failed int
	firstFailure    error
	wall            time.Duration
	p50, p99        time.Duration // client-side latency of a create
}

// burstSessions creates n valid sessions (2-of-3, 2 persistent + 1 delegate) from clients goroutines.
func burstSessions(ctx context.Context, cl client.Client, prefix string, n, clients int) (sessionBurst, error) {
	var (
		b    sessionBurst
		next atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			failed, firstFailure := 0, error(nil)
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					break
				}
				s := &v1alpha1.MPCSession{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%04d", prefix, i), Namespace: namespace},
					Spec: v1alpha1.MPCSessionSpec{Type: v1alpha1.SessionSign, Threshold: v1alpha1.Threshold{T: 2, N: 3},
						Composition: &v1alpha1.Composition{Persistent: 2, Delegate: 1}},
				}
				t0 := time.Now()
				err := cl.Create(ctx, s)
				mine = append(mine, time.Since(t0))
				if err != nil {
					failed++
					if firstFailure == nil {
						firstFailure = fmt.Errorf("creating MPCSession %s: %w", s.Name, err)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, mine...)
			b.failed += failed
			if b.firstFailure == nil {
				b.firstFailure = firstFailure
			}
		})
	}
	wg.Wait()
	b.wall = time.Since(start)
	if err := ctx.Err(); err != nil {
		return b, err
	}
	b.created = len(lats) - b.failed
	slices.Sort(lats)
	b.p50, b.p99 = nearestRank(lats, 0.5), nearestRank(lats, 0.99)
	if len(lats) != n {
		return b, errors.New("not every session was attempted")
	}
	return b, nil
}

func nearestRank(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
