package cluster

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/postrender"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// HelmTimeout bounds every install and upgrade of [Cluster.HelmInstall] and [Cluster.HelmUpgrade] (--wait).
const HelmTimeout = 2 * time.Minute

// Helm is a Helm SDK configuration for releases in namespace on this cluster (release records in Secrets,
// as the helm CLI keeps them). debug receives Helm's debug lines; nil discards them.
func (c *Cluster) Helm(namespace string, debug func(format string, v ...any)) (*action.Configuration, error) {
	if debug == nil {
		debug = func(string, ...any) {}
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &c.Kubeconfig
	flags.Namespace = &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", debug); err != nil {
		return nil, fmt.Errorf("helm configuration for namespace %s: %w", namespace, err)
	}
	return cfg, nil
}

// HelmRelease is what [Cluster.HelmInstall] and [Cluster.HelmUpgrade] install: the chart as a release, with
// the values, waiting (HelmTimeout) for its workloads to be Ready.
type HelmRelease struct {
	Name, Namespace string
	Chart           *chart.Chart
	Values          map[string]any
	// PostRenderer, if set, rewrites the rendered manifests before they are applied.
	PostRenderer postrender.PostRenderer
	// APIVersions are served besides Helm's defaults when rendering without a cluster (HelmTemplate), as
	// `helm template --api-versions` (e.g. "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy").
	APIVersions []string
}

// HelmInstall is `helm install NAME CHART --namespace NS --wait` through the Helm SDK.
func (c *Cluster) HelmInstall(ctx context.Context, r HelmRelease) (*release.Release, error) {
	cfg, err := c.Helm(r.Namespace, nil)
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = r.Name, r.Namespace
	install.Wait, install.Timeout = true, HelmTimeout
	install.PostRenderer = r.PostRenderer
	rel, err := install.RunWithContext(ctx, r.Chart, r.Values)
	if err != nil {
		return rel, fmt.Errorf("helm install %s --namespace %s: %w", r.Name, r.Namespace, err)
	}
	return rel, nil
}

// HelmUpgrade is `helm upgrade NAME CHART --namespace NS --wait` through the Helm SDK (the chart's defaults
// plus the values: nothing is reused).
func (c *Cluster) HelmUpgrade(ctx context.Context, r HelmRelease) (*release.Release, error) {
	cfg, err := c.Helm(r.Namespace, nil)
	if err != nil {
		return nil, err
	}
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = r.Namespace
	upgrade.Wait, upgrade.Timeout = true, HelmTimeout
	upgrade.PostRenderer = r.PostRenderer
	rel, err := upgrade.RunWithContext(ctx, r.Name, r.Chart, r.Values)
	if err != nil {
		return rel, fmt.Errorf("helm upgrade %s --namespace %s: %w", r.Name, r.Namespace, err)
	}
	return rel, nil
}

// HelmTemplate is `helm template NAME CHART --namespace NS` through the Helm SDK, without a cluster: the
// rendered release for kubeVersion (e.g. "v1.36.3"; empty for Helm's default).
func HelmTemplate(ctx context.Context, r HelmRelease, kubeVersion string) (*release.Release, error) {
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = r.Name, r.Namespace
	install.PostRenderer = r.PostRenderer
	install.APIVersions = r.APIVersions
	if kubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			return nil, fmt.Errorf("kube version %q: %w", kubeVersion, err)
		}
		install.KubeVersion = kv
	}
	values := r.Values
	if values == nil {
		values = map[string]any{}
	}
	rel, err := install.RunWithContext(ctx, r.Chart, values)
	if err != nil {
		return rel, fmt.Errorf("rendering %s as release %s: %w", r.Chart.Name(), r.Name, err)
	}
	return rel, nil
}
