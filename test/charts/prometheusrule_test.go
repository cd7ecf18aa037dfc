package charts_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/internal/audit"
	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/test/ports"
)

// renderWithAPIs renders the mpc-system chart as helm install --dry-run would on a cluster serving apis.
func renderWithAPIs(t *testing.T, apis []string, set ...string) string {
	t.Helper()
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = releaseName, releaseNamespace
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}
	install.APIVersions = apis
	rel, err := install.RunWithContext(t.Context(), loadChart(t, "mpc-system"), setValues(t, set))
	require.NoError(t, err)
	return rel.Manifest
}

// prometheusRule is the part of a monitoring.coreos.com/v1 PrometheusRule the tests read.
type prometheusRule struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

var monitoringAPIs = []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule"}

// alerts renders the chart and returns its PrometheusRule's alerts by name (nil when none is rendered).
func alerts(t *testing.T, apis []string, set ...string) (map[string]string, *prometheusRule) {
	t.Helper()
	for _, doc := range releaseutil.SplitManifests(renderWithAPIs(t, apis, set...)) {
		var pr prometheusRule
		require.NoError(t, yaml.Unmarshal([]byte(doc), &pr))
		if pr.Kind != "PrometheusRule" {
			continue
		}
		out := map[string]string{}
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				out[r.Alert] = r.Expr
			}
		}
		return out, &pr
	}
	return nil, nil
}

func TestPrometheusRule(t *testing.T) {
	t.Run("it is off by default and needs the API", func(t *testing.T) {
		got, _ := alerts(t, monitoringAPIs)
		assert.Nil(t, got, "off by default")
		got, _ = alerts(t, nil, "mpcguard.prometheusRule.enabled=true")
		assert.Nil(t, got, "not where monitoring.coreos.com/v1 PrometheusRule is not served")
		got, _ = alerts(t, monitoringAPIs, "mpcguard.prometheusRule.enabled=true", "mpcguard.webhook.url=https://127.0.0.1:9443/validate", "mpcguard.webhook.caBundle=Zm9v")
		assert.Nil(t, got, "not for a webhook outside the cluster, whose metrics this chart does not scrape")
	})

	t.Run("it alerts on an unavailable webhook, evaluation errors, a denial surge and a stale audit", func(t *testing.T) {
		got, pr := alerts(t, monitoringAPIs, "mpcguard.prometheusRule.enabled=true",
			"mpcguard.prometheusRule.labels.release=prometheus", "mpcguard.prometheusRule.alertLabels.team=custody",
			"mpcguard.prometheusRule.denialSurge.threshold=7", "mpcguard.prometheusRule.window=15m",
			"mpcguard.prometheusRule.unavailable.for=2m")
		require.NotNil(t, pr)
		assert.Equal(t, "prometheus", pr.Metadata.Labels["release"])
		assert.Equal(t, releaseNamespace, pr.Metadata.Namespace)
		sel := `job="mpc-system-mpcguard-webhook",namespace="mpc-system"`
		assert.Equal(t, map[string]string{
			"MpcguardWebhookUnavailable":  `absent(up{` + sel + `} == 1)`,
			"MpcguardWebhookReplicasDown": `(count(up{` + sel + `} == 1) or vector(0)) < 2`,
			"MpcguardEvaluationErrors":    `sum by (reason) (increase(mpcguard_evaluation_errors_total{` + sel + `}[15m])) > 0`,
			"MpcguardDenialSurge":         `sum(increase(mpcguard_admission_requests_total{` + sel + `,result="denied"}[15m])) > 7`,
			"MpcguardAuditStale":          `time() - max(mpcguard_audit_last_run_timestamp_seconds{` + sel + `}) > 3600`,
		}, got)
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				assert.Equal(t, "custody", r.Labels["team"], r.Alert)
				assert.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], r.Alert)
				assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
				if r.Alert == "MpcguardWebhookUnavailable" {
					assert.Equal(t, "2m", r.For)
					assert.Equal(t, "critical", r.Labels["severity"])
				}
			}
		}
	})

	t.Run("the audit alert follows the audit and the replicas alert needs two replicas", func(t *testing.T) {
		got, _ := alerts(t, monitoringAPIs, "mpcguard.prometheusRule.enabled=true", "mpcguard.webhook.audit.interval=0s", "mpcguard.webhook.replicas=1")
		assert.NotContains(t, got, "MpcguardAuditStale")
		assert.NotContains(t, got, "MpcguardWebhookReplicasDown")
		assert.Contains(t, got, "MpcguardWebhookUnavailable")
	})

	t.Run("a selector of the operator's replaces job and namespace", func(t *testing.T) {
		got, _ := alerts(t, monitoringAPIs, "mpcguard.prometheusRule.enabled=true", `mpcguard.prometheusRule.selector=service="mpcguard"`)
		assert.Equal(t, `sum(increase(mpcguard_admission_requests_total{service="mpcguard",result="denied"}[10m])) > 50`, got["MpcguardDenialSurge"])
	})

	t.Run("every expression is balanced and calls only PromQL functions", func(t *testing.T) {
		got, _ := alerts(t, monitoringAPIs, "mpcguard.prometheusRule.enabled=true")
		call := regexp.MustCompile(`([a-z_]+)\s*\(`)
		known := map[string]bool{"absent": true, "count": true, "vector": true, "sum": true, "by": true, "increase": true, "time": true, "max": true, "rate": true}
		for name, expr := range got {
			assert.True(t, balanced(expr), "%s: %s", name, expr)
			for _, m := range call.FindAllStringSubmatch(expr, -1) {
				assert.True(t, known[m[1]], "%s calls %s", name, m[1])
			}
		}
	})

	t.Run("every metric and label an alert reads is one the webhook exports", func(t *testing.T) {
		got, _ := alerts(t, monitoringAPIs, "mpcguard.prometheusRule.enabled=true")
		require.NotEmpty(t, got)
		exported := scrapeWebhook(t)
		// The audit's series exist only on a webhook that audits a cluster: read them from its registry.
		reg := prometheus.NewRegistry()
		audit.NewMetrics(reg)
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			exported[f.GetName()] = append(exported[f.GetName()], "")
		}
		selector := regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
		name := regexp.MustCompile(`mpcguard_[a-z_]+`)
		for alert, expr := range got {
			for _, n := range name.FindAllString(expr, -1) {
				_, ok := exported[n]
				assert.True(t, ok, "%s reads %s, which the webhook does not export", alert, n)
			}
			for _, m := range selector.FindAllStringSubmatch(expr, -1) {
				metric := m[1]
				if metric == "up" {
					continue // Prometheus' own, per scraped target
				}
				for _, matcher := range strings.Split(m[2], ",") {
					k, v, ok := strings.Cut(matcher, "=")
					require.True(t, ok, matcher)
					if k == "job" || k == "namespace" {
						continue // target labels, given by the scrape
					}
					found := false
					for _, series := range exported[metric] {
						found = found || strings.Contains(series, k+"="+v)
					}
					assert.True(t, found, "%s selects %s{%s}, a series the webhook does not export", alert, metric, matcher)
				}
			}
		}
	})
}

// balanced says whether the parentheses, brackets and braces of a PromQL expression nest.
func balanced(expr string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for _, r := range expr {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inString
}

// scrapeWebhook starts `mpcguard webhook` on loopback and returns its /metrics: each metric name with the label
// sets of its series (as written, e.g. `kind="Pod",result="denied"`).
func scrapeWebhook(t *testing.T) map[string][]string {
	t.Helper()
	dir := t.TempDir()
	_, err := certs.WriteLoopback(dir, time.Hour)
	require.NoError(t, err)
	metricsAddr := "127.0.0.1:" + strconv.Itoa(ports.FreeT(t))
	cmd := exec.Command(mpcguardBin(t), "webhook", "--inventory=false", "--host", "127.0.0.1",
		"--port", strconv.Itoa(ports.FreeT(t)), "--cert-dir", dir,
		"--health-addr", "127.0.0.1:"+strconv.Itoa(ports.FreeT(t)), "--metrics-addr", metricsAddr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})

	var body string
	deadline := time.Now().Add(30 * time.Second)
	for body == "" {
		select {
		case <-done:
			require.FailNow(t, "mpcguard webhook exited", stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "no /metrics within 30s: %s", stderr.String())
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metricsAddr+"/metrics", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				body = string(b)
			}
		}
		cancel()
		if body == "" {
			time.Sleep(50 * time.Millisecond)
		}
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(strings.Fields(line)[0], "{")
		out[name] = append(out[name], strings.TrimSuffix(rest, "}"))
	}
	require.NoError(t, sc.Err())
	return out
}
