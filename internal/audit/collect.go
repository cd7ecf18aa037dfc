package audit

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Kind is a kind the audit lists: its resource, for the API, and its kind, for the engine.
type Kind struct {
	schema.GroupVersionResource
	Kind string
}

// GVK is the group, version and kind the engine reviews.
func (k Kind) GVK() schema.GroupVersionKind { return k.GroupVersion().WithKind(k.Kind) }

// Kinds are the kinds the audit reads: every kind the policies review as a stored object. Not here: the
// requests that are not objects (CONNECT, bindings) and VolumeSnapshots (an optional API whose copies the
// policies judge at creation only).
var Kinds = []Kind{
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "StatefulSet"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, "ReplicaSet"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "Job"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "CronJob"},
	{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, "PersistentVolumeClaim"},
	{schema.GroupVersionResource{Group: vocab.SessionGroup, Version: vocab.SessionVersion, Resource: vocab.SessionResource}, vocab.SessionKind},
}

// pageSize bounds each list call, so a large namespace is read in pages rather than in one response.
const pageSize = 500

// Item is one object of the cluster.
type Item struct {
	Kind   Kind
	Object *unstructured.Unstructured
}

// Snapshot is what a collection read: the objects, the lists that failed, and the kinds the API server does
// not serve (an MPCSession CRD not installed).
type Snapshot struct {
	Namespaces []string // audited; empty means every namespace
	Items      []Item
	// PodsListed is true when every pod list succeeded: only then can the pods be an inventory.
	PodsListed bool
	Errors     []*validate.InputError
	Skipped    []validate.Skip
}

// Pods returns the pods of the snapshot, typed, for the inventory (webhook.Inventory.Load).
func (s Snapshot) Pods() ([]*corev1.Pod, error) {
	var pods []*corev1.Pod
	for _, it := range s.Items {
		if it.Kind.Kind != "Pod" || it.Kind.Group != "" {
			continue
		}
		pod := &corev1.Pod{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(it.Object.Object, pod); err != nil {
			return nil, fmt.Errorf("reading pod %s/%s: %w", it.Object.GetNamespace(), it.Object.GetName(), err)
		}
		pods = append(pods, pod)
	}
	return pods, nil
}

// Collector lists the audited kinds.
type Collector struct {
	Client dynamic.Interface
	// Namespaces limits the audit; empty means every namespace (one cluster-wide list per kind).
	Namespaces []string
}

// Collect lists every audited kind in every audited namespace. A list that fails is an error of the snapshot,
// never a silent gap; a kind the API server does not serve is skipped and says so.
func (c Collector) Collect(ctx context.Context) Snapshot {
	snap := Snapshot{Namespaces: slices.Clone(c.Namespaces), PodsListed: true}
	namespaces := c.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, k := range Kinds {
		for _, ns := range namespaces {
			items, err := c.list(ctx, k, ns)
			if apierrors.IsNotFound(err) {
				snap.Skipped = append(snap.Skipped, validate.Skip{Source: k.Resource + "." + k.Group,
					Reason: "not served by the API server (its CRD is not installed): not audited"})
				break
			}
			if err != nil {
				if k.Resource == "pods" && k.Group == "" {
					snap.PodsListed = false
				}
				where := "every namespace"
				if ns != "" {
					where = "namespace " + ns
				}
				snap.Errors = append(snap.Errors, &validate.InputError{Source: fmt.Sprintf("list %s in %s", k.Resource, where),
					Err: fmt.Errorf("listing %s: %w", k.GroupResource(), err)})
				continue
			}
			snap.Items = append(snap.Items, items...)
		}
	}
	return snap
}

func (c Collector) list(ctx context.Context, k Kind, ns string) ([]Item, error) {
	var out []Item
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		list, err := c.Client.Resource(k.GroupVersionResource).Namespace(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			obj := &list.Items[i]
			// List items carry no apiVersion and kind in some encodings; the policies read the object's own.
			obj.SetAPIVersion(k.GroupVersion().String())
			obj.SetKind(k.Kind)
			out = append(out, Item{Kind: k, Object: obj})
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}
