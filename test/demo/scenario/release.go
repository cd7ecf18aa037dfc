package scenario

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mpcguard/mpcguard/test/cluster"
)

// HelmTimeout bounds helm install, upgrade and uninstall (--wait).
const HelmTimeout = cluster.HelmTimeout

// ReleaseOptions configure [Env.Deploy].
type ReleaseOptions struct {
	// Chart is the chart directory: mpc-system, or mpcguard alone.
	Chart string
	// Name and Namespace of the release; the namespace is created if missing.
	Name, Namespace string
	// Values are the user's values; the webhook's url and caBundle are added to them.
	Values map[string]any
	// Restricted labels a namespace it creates pod-security.kubernetes.io/enforce=restricted.
	Restricted bool
}

// Release is a Helm release on the local cluster whose ValidatingWebhookConfiguration reaches a local
// `mpcguard webhook` process by URL, that process run with the arguments the chart gives its own webhook
// Deployment for the same values.
type Release struct {
	Name, Namespace, Chart string
	// Values are the user's values of the last install or upgrade.
	Values map[string]any
	// Webhook is the local webhook process (nil when the values install no webhook, e.g. mpcguard.enabled=false).
	Webhook *cluster.Webhook

	env  *Env
	args []string
}

// Deploy creates the namespace, starts the webhook and installs the chart, waiting for its workloads.
func (e *Env) Deploy(ctx context.Context, opts ReleaseOptions) (*Release, error) {
	r := &Release{Name: opts.Name, Namespace: opts.Namespace, Chart: opts.Chart, env: e}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opts.Namespace}}
	if opts.Restricted {
		ns.Labels = map[string]string{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		}
		e.step("creating namespace " + opts.Namespace + " (pod-security.kubernetes.io/enforce=restricted)")
	}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s: %w", opts.Namespace, err)
	}
	chrt, err := loader.Load(opts.Chart)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", opts.Chart, err)
	}
	if err := r.startWebhook(ctx, chrt, opts.Values); err != nil {
		return nil, err
	}
	e.step(fmt.Sprintf("helm install %s %s --namespace %s%s --wait", r.Name, opts.Chart, r.Namespace, r.setFlags()))
	start := time.Now()
	if _, err := e.Cluster.HelmInstall(ctx, cluster.HelmRelease{Name: r.Name, Namespace: r.Namespace, Chart: chrt,
		Values: r.values(opts.Values)}); err != nil {
		return r, err
	}
	r.Values = opts.Values
	e.step(fmt.Sprintf("installed %s: every workload Ready in %s", r.Name, time.Since(start).Round(100*time.Millisecond)))
	return r, nil
}

// Upgrade upgrades the release to values (the chart's defaults plus these: nothing is reused). When the values
// change the webhook's arguments, a new webhook process takes over first, as a rolling update of the chart's
// webhook Deployment would do.
func (r *Release) Upgrade(ctx context.Context, values map[string]any) (*release.Release, error) {
	chrt, err := loader.Load(r.Chart)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", r.Chart, err)
	}
	old := r.Webhook
	if err := r.startWebhook(ctx, chrt, values); err != nil {
		return nil, err
	}
	r.env.step(fmt.Sprintf("helm upgrade %s %s --namespace %s%s --wait", r.Name, r.Chart, r.Namespace, r.setFlags()))
	rel, err := r.env.Cluster.HelmUpgrade(ctx, cluster.HelmRelease{Name: r.Name, Namespace: r.Namespace, Chart: chrt,
		Values: r.values(values)})
	if err != nil {
		return nil, err
	}
	r.Values = values
	if old != nil && old != r.Webhook {
		if err := old.Stop(); err != nil {
			return rel, fmt.Errorf("stopping the previous webhook: %w", err)
		}
	}
	return rel, nil
}

// Uninstall uninstalls the release, waiting for its resources to be deleted, and stops its webhook.
func (r *Release) Uninstall(ctx context.Context) error {
	cfg, err := r.Helm()
	if err != nil {
		return err
	}
	uninstall := action.NewUninstall(cfg)
	uninstall.Wait, uninstall.Timeout = true, HelmTimeout
	r.env.step(fmt.Sprintf("helm uninstall %s --namespace %s --wait", r.Name, r.Namespace))
	if _, err := uninstall.Run(r.Name); err != nil {
		return fmt.Errorf("helm uninstall %s: %w", r.Name, err)
	}
	if r.Webhook != nil {
		err = r.Webhook.Stop()
		r.Webhook, r.args = nil, nil
	}
	return err
}

// Helm is a Helm SDK configuration for the release's namespace.
func (r *Release) Helm() (*action.Configuration, error) { return r.env.Cluster.Helm(r.Namespace, nil) }

// startWebhook starts a webhook for values unless the running one already has the arguments they need.
func (r *Release) startWebhook(ctx context.Context, chrt *chart.Chart, values map[string]any) error {
	args, err := ChartWebhookArgs(ctx, chrt, values, r.Name, r.Namespace)
	if err != nil {
		if isNoWebhook(err) {
			r.Webhook, r.args = nil, nil
			return nil
		}
		return err
	}
	if r.Webhook != nil && slices.Equal(args, r.args) {
		return nil
	}
	r.env.step("starting the webhook on 127.0.0.1 with the chart's arguments: mpcguard webhook " + strings.Join(args, " "))
	w, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: r.env.Mpcguard, Kubeconfig: r.env.Cluster.Kubeconfig,
		Args: args, Dir: filepath.Join(r.env.tempDir, fmt.Sprintf("webhook-%s-%d", r.Namespace, len(r.env.started)))})
	if err != nil {
		return err
	}
	r.env.started = append(r.env.started, w)
	r.Webhook, r.args = w, args
	return nil
}

// values are the user's values plus the webhook's url and caBundle, under mpcguard.webhook for mpc-system and
// webhook for mpcguard alone. The native policies are off unless the user's values turn them on: the API server
// runs them before any webhook, so their denials would answer first, and these releases exist to show and test
// the local webhook's own decisions (test/native and test/charts hold the native policies to the webhook's).
func (r *Release) values(user map[string]any) map[string]any {
	vals := map[string]any{}
	if r.Webhook == nil {
		return merge(vals, user)
	}
	off := map[string]any{"nativePolicies": map[string]any{"enabled": false}}
	if filepath.Base(r.Chart) == "mpcguard" {
		vals = merge(vals, map[string]any{"webhook": off})
	} else {
		vals = merge(vals, map[string]any{"mpcguard": map[string]any{"webhook": off}})
	}
	vals = merge(vals, user)
	hook := map[string]any{"url": r.Webhook.URL, "caBundle": base64.StdEncoding.EncodeToString(r.Webhook.CABundle)}
	if filepath.Base(r.Chart) == "mpcguard" {
		return merge(vals, map[string]any{"webhook": hook})
	}
	return merge(vals, map[string]any{"mpcguard": map[string]any{"webhook": hook}})
}

func (r *Release) setFlags() string {
	if r.Webhook == nil {
		return ""
	}
	key := "mpcguard.webhook"
	if filepath.Base(r.Chart) == "mpcguard" {
		key = "webhook"
	}
	return fmt.Sprintf(" --set %s.url=%s,%s.caBundle=<its CA>", key, r.Webhook.URL, key)
}

func (e *Env) webhooks() []*cluster.Webhook { return e.started }

// merge merges src over dst, recursively for maps, and returns dst. Maps of src are copied, never shared.
func merge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			dm, ok := dst[k].(map[string]any)
			if !ok {
				dm = map[string]any{}
			}
			dst[k] = merge(dm, sm)
			continue
		}
		dst[k] = v
	}
	return dst
}
