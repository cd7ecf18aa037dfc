package scenario

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/releaseutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/test/cluster"
)

// DeployInCluster installs the chart the way a real cluster runs it: webhook.url unset, so the chart renders
// its own webhook Deployment, Service, ServiceAccount, RBAC and certificate Secret, and no local webhook process is
// started. It waits for the workloads (KWOK reports the webhook's pods Ready too).
//
// No container runs on this cluster, so that in-cluster webhook could never answer the API server: the
// release's ValidatingWebhookConfiguration is left out by a Helm post-renderer (with failurePolicy Fail it
// would reject the release's own party pods), and nothing is admission-checked in the release's namespaces.
// Use it for what the chart grants and how its pods are admitted (RBAC, Pod Security), never for admission.
func (e *Env) DeployInCluster(ctx context.Context, opts ReleaseOptions) (*Release, error) {
	r := &Release{Name: opts.Name, Namespace: opts.Namespace, Chart: opts.Chart, env: e}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opts.Namespace}}
	if opts.Restricted {
		ns.Labels = map[string]string{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		}
	}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s: %w", opts.Namespace, err)
	}
	chrt, err := loader.Load(opts.Chart)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", opts.Chart, err)
	}
	e.step(fmt.Sprintf("helm install %s %s --namespace %s --wait (in-cluster webhook, its ValidatingWebhookConfiguration left out)",
		r.Name, opts.Chart, r.Namespace))
	start := time.Now()
	if _, err := e.Cluster.HelmInstall(ctx, cluster.HelmRelease{Name: r.Name, Namespace: r.Namespace, Chart: chrt,
		Values: merge(map[string]any{}, opts.Values), PostRenderer: withoutWebhookConfigurations{}}); err != nil {
		return r, err
	}
	r.Values = opts.Values
	e.step(fmt.Sprintf("installed %s: every workload Ready in %s", r.Name, time.Since(start).Round(100*time.Millisecond)))
	return r, nil
}

// withoutWebhookConfigurations is a Helm post-renderer that drops ValidatingWebhookConfigurations.
type withoutWebhookConfigurations struct{}

func (withoutWebhookConfigurations) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	docs := releaseutil.SplitManifests(rendered.String())
	keys := slices.Collect(maps.Keys(docs))
	sort.Sort(releaseutil.BySplitManifestsOrder(keys)) // Helm's install order, kept
	var out bytes.Buffer
	for _, k := range keys {
		doc := docs[k]
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("reading a rendered manifest: %w", err)
		}
		if head.Kind == "ValidatingWebhookConfiguration" {
			continue
		}
		out.WriteString("---\n" + doc + "\n")
	}
	return &out, nil
}
