package webhook

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Inventory knows how many Ready persistent party pods each namespace has, and the role of every pod that
// carries a role label. It is fed by a controller-runtime cache of the pods that carry the role label
// (label-selected on its existence, limited to the watched namespaces: a persistent pod whose party label was
// removed is still known as persistent) and keeps two indexes, updated on every informer event, so an
// admission costs one map lookup — never a List, never a scan.
type Inventory struct {
	roleKey  string
	selector labels.Selector
	synced   atomic.Bool

	// watched are the namespaces the cache lists (nil: all), set before synced; outside them the inventory
	// knows nothing and says so.
	watched map[string]bool

	mu    sync.RWMutex
	ready map[string]map[types.UID]struct{} // namespace -> Ready persistent party pods
	roles map[string]string                 // namespace/name -> role label
}

var _ engine.Inventory = (*Inventory)(nil)

// NewInventory returns an empty, unsynced inventory for the configured role label.
func NewInventory(cfg engine.Config) *Inventory {
	return &Inventory{roleKey: cfg.RoleLabelKey, selector: labels.SelectorFromSet(cfg.PartySelector),
		ready: map[string]map[types.UID]struct{}{}, roles: map[string]string{}}
}

// PersistentReady implements engine.Inventory; ok is false until the cache has synced.
func (i *Inventory) PersistentReady(namespace string) (int, bool) {
	if !i.knows(namespace) {
		return 0, false
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	return len(i.ready[namespace]), true
}

// Role implements engine.Inventory: the role label of a pod, "" when it has none; ok is false until the cache
// has synced.
func (i *Inventory) Role(namespace, name string) (string, bool) {
	if !i.knows(namespace) {
		return "", false
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.roles[namespace+"/"+name], true
}

// knows reports whether the cache has synced and watches the namespace: a namespace outside --namespaces is
// unknown, never empty (an exec there is reported as not checked instead of admitted as into no party).
func (i *Inventory) knows(namespace string) bool {
	return i.synced.Load() && (i.watched == nil || i.watched[namespace])
}

// Synced reports whether the cache has synced.
func (i *Inventory) Synced() bool { return i.synced.Load() }

// Start builds the cache, registers the index, starts it and returns once it has synced (or ctx ends).
// The cache runs until ctx is done.
func (i *Inventory) Start(ctx context.Context, cfg *rest.Config, pc engine.Config, namespaces []string) error {
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: roleSelector(pc.RoleLabelKey), Transform: trimPod(pc.RoleLabelKey, pc.PartySelector)},
		},
	}
	if len(namespaces) > 0 {
		i.watched = map[string]bool{}
		for _, ns := range namespaces {
			i.watched[ns] = true
		}
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(cfg, opts)
	if err != nil {
		return fmt.Errorf("creating the party pod cache: %w", err)
	}
	inf, err := c.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("getting the party pod informer: %w", err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { i.observe(obj) },
		UpdateFunc: func(_, obj any) { i.observe(obj) },
		DeleteFunc: func(obj any) { i.forget(obj) },
	}); err != nil {
		return fmt.Errorf("watching party pods: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		select {
		case err := <-errc:
			return fmt.Errorf("party pod cache stopped before it synced: %w", err)
		default:
			return fmt.Errorf("party pod cache did not sync: %w", ctx.Err())
		}
	}
	i.synced.Store(true)
	return nil
}

// Load indexes a listing of pods — every pod of namespaces, or of the cluster when namespaces is empty — and
// marks the inventory synced: a one-shot audit (mpcguard audit) reads the pods it audits once and indexes them
// with the cache's own rules instead of starting a watch, so its inventory is the cluster at the moment of the
// listing, consistent with the objects it judges. Call it once, on a new inventory, instead of Start.
func (i *Inventory) Load(namespaces []string, pods []*corev1.Pod) {
	if len(namespaces) > 0 {
		i.watched = map[string]bool{}
		for _, ns := range namespaces {
			i.watched[ns] = true
		}
	}
	for _, pod := range pods {
		if _, ok := pod.Labels[i.roleKey]; ok {
			i.observe(pod)
		}
	}
	i.synced.Store(true)
}

// roleSelector selects the pods that carry the role label.
func roleSelector(roleKey string) labels.Selector {
	req, err := labels.NewRequirement(roleKey, selection.Exists, nil)
	if err != nil {
		// The key was validated with the configuration; a failure here is a bug.
		panic(fmt.Sprintf("role label key %q: %v", roleKey, err))
	}
	return labels.NewSelector().Add(*req)
}

// trimPod keeps only what the indexes read — the role label, the party selector's labels and the Ready
// condition — so a large pool costs little memory: a cached pod is a few hundred bytes, not the several KiB
// of its labels, spec and status.
func trimPod(roleKey string, selector map[string]string) toolscache.TransformFunc {
	return func(obj any) (any, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return obj, nil
		}
		trimmed := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID,
			ResourceVersion: pod.ResourceVersion, DeletionTimestamp: pod.DeletionTimestamp}}
		trimmed.Labels = make(map[string]string, len(selector)+1)
		for _, k := range append(slices.Collect(maps.Keys(selector)), roleKey) {
			if v, ok := pod.Labels[k]; ok {
				trimmed.Labels[k] = v
			}
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady {
				trimmed.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
			}
		}
		return trimmed, nil
	}
}

func (i *Inventory) observe(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	counted := pod.Labels[i.roleKey] == vocab.RolePersistent && i.selector.Matches(labels.Set(pod.Labels)) &&
		pod.DeletionTimestamp == nil && podReady(pod)
	i.mu.Lock()
	defer i.mu.Unlock()
	if role, ok := pod.Labels[i.roleKey]; ok {
		i.roles[pod.Namespace+"/"+pod.Name] = role
	} else {
		delete(i.roles, pod.Namespace+"/"+pod.Name)
	}
	if counted {
		set := i.ready[pod.Namespace]
		if set == nil {
			set = map[types.UID]struct{}{}
			i.ready[pod.Namespace] = set
		}
		set[pod.UID] = struct{}{}
		return
	}
	i.remove(pod.Namespace, pod.UID)
}

func (i *Inventory) forget(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.roles, pod.Namespace+"/"+pod.Name)
	i.remove(pod.Namespace, pod.UID)
}

func (i *Inventory) remove(ns string, uid types.UID) {
	if set := i.ready[ns]; set != nil {
		delete(set, uid)
		if len(set) == 0 {
			delete(i.ready, ns)
		}
	}
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
