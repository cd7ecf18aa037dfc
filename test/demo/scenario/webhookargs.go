package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/test/cluster"
)

// webhookComponent is the app.kubernetes.io/component of the chart's webhook Deployment.
const webhookComponent = "admission-webhook"

// ChartWebhookArgs renders the chart (mpc-system or mpcguard) with values as the release would be rendered
// without webhook.url, and returns the arguments of its webhook Deployment's container, less the ones a
// local process sets itself (--port, the certificate flags, --health-addr, --metrics-addr): the local webhook
// then serves a certificate of its own from files and enforces exactly what the chart's in-cluster webhook
// would (party selector, role key, namespaces, enforcement, share storage), with no template logic repeated here.
func ChartWebhookArgs(ctx context.Context, chrt *chart.Chart, values map[string]any, release, namespace string) ([]string, error) {
	rel, err := cluster.HelmTemplate(ctx, cluster.HelmRelease{Name: release, Namespace: namespace, Chart: chrt,
		Values: merge(map[string]any{}, values)}, "v1.36.3")
	if err != nil {
		return nil, fmt.Errorf("rendering %s to read its webhook's arguments: %w", chrt.Name(), err)
	}
	for _, manifest := range releaseutil.SplitManifests(rel.Manifest) {
		var head struct {
			Kind     string
			Metadata struct{ Labels map[string]string }
		}
		if err := yaml.Unmarshal([]byte(manifest), &head); err != nil {
			return nil, fmt.Errorf("reading a rendered manifest of %s: %w", chrt.Name(), err)
		}
		if head.Kind != "Deployment" || head.Metadata.Labels["app.kubernetes.io/component"] != webhookComponent {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(manifest), &d); err != nil {
			return nil, fmt.Errorf("decoding the webhook Deployment of %s: %w", chrt.Name(), err)
		}
		var args []string
		for _, arg := range d.Spec.Template.Spec.Containers[0].Args {
			name, _, _ := strings.Cut(arg, "=")
			switch name {
			case "webhook", "--port", "--health-addr", "--metrics-addr", "--cert-mode", "--cert-dir", "--cert-secret",
				"--webhook-configuration", "--cert-dns-names", "--ca-validity", "--cert-validity", "--cert-overlap",
				"--cert-check-interval":
				continue
			}
			args = append(args, arg)
		}
		return args, nil
	}
	return nil, fmt.Errorf("%w: %s renders no webhook Deployment (app.kubernetes.io/component=%s) with these values",
		errNoWebhook, chrt.Name(), webhookComponent)
}

var errNoWebhook = errors.New("no webhook")

func isNoWebhook(err error) bool { return errors.Is(err, errNoWebhook) }
