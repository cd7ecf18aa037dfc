package charts_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// knob is one extension point an operator sets with --set, and what it must do to the rendered objects.
type knob struct {
	chart string
	set   []string // --set arguments
	check func(t *testing.T, r *rendered)
}

// podOf is the pod template of the named workload (Deployment or StatefulSet).
func podOf(t *testing.T, r *rendered, name string) corev1.PodTemplateSpec {
	t.Helper()
	for _, w := range workloads(r) {
		if w.name == name {
			return w.template
		}
	}
	require.Failf(t, "no workload", "%s is not rendered", name)
	return corev1.PodTemplateSpec{}
}

const (
	coordinatorName = "mpc-system-coordinator"
	persistent      = "mpc-system-server-party"
	delegate        = "mpc-system-server-party-api"
	webhook         = "mpc-system-mpcguard-webhook"
)

// The extension points of issue 13, each as an operator sets it, keyed by what it must do.
var knobs = map[string]knob{
	"imagePullSecrets[0].name=regcred gives every pod of mpc-system the pull secret": {
		"mpc-system", []string{"imagePullSecrets[0].name=regcred"},
		func(t *testing.T, r *rendered) {
			for id, spec := range podSpecs(r) {
				if strings.Contains(id, "mpcguard") {
					continue // the webhook's come from global.imagePullSecrets or mpcguard.imagePullSecrets
				}
				assert.Contains(t, spec.ImagePullSecrets, corev1.LocalObjectReference{Name: "regcred"}, id)
			}
		},
	},
	"global.imagePullSecrets reaches every pod, the webhook's too": {
		"mpc-system", []string{"global.imagePullSecrets[0].name=regcred"},
		func(t *testing.T, r *rendered) {
			for id, spec := range podSpecs(r) {
				assert.Contains(t, spec.ImagePullSecrets, corev1.LocalObjectReference{Name: "regcred"}, id)
			}
		},
	},
	"global.imageRegistry=reg:5000 pulls every image from that registry": {
		"mpc-system", []string{"global.imageRegistry=reg:5000"},
		func(t *testing.T, r *rendered) {
			for id, spec := range podSpecs(r) {
				for _, c := range spec.Containers {
					assert.True(t, strings.HasPrefix(c.Image, "reg:5000/"), "%s: %s", id, c.Image)
				}
			}
		},
	},
	"an image's registry, repository and digest pin it by digest": {
		"mpc-system", []string{"coordinator.image.registry=mirror.example.com", "coordinator.image.repository=team/coordinator",
			"coordinator.image.digest=sha256:" + strings.Repeat("ab", 32)},
		func(t *testing.T, r *rendered) {
			assert.Equal(t, "mirror.example.com/team/coordinator@sha256:"+strings.Repeat("ab", 32),
				podOf(t, r, coordinatorName).Spec.Containers[0].Image)
		},
	},
	"coordinator.nodeSelector pins the coordinator to nodes": {
		"mpc-system", []string{"coordinator.nodeSelector.dedicated=mpc"},
		func(t *testing.T, r *rendered) {
			assert.Equal(t, map[string]string{"dedicated": "mpc"}, podOf(t, r, coordinatorName).Spec.NodeSelector)
		},
	},
	"coordinator.tolerations let it onto tainted nodes": {
		"mpc-system", []string{"coordinator.tolerations[0].key=dedicated", "coordinator.tolerations[0].operator=Exists",
			"coordinator.tolerations[0].effect=NoSchedule"},
		func(t *testing.T, r *rendered) {
			assert.Equal(t, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
				podOf(t, r, coordinatorName).Spec.Tolerations)
		},
	},
	"coordinator.podAnnotations annotate its pods": {
		"mpc-system", []string{"coordinator.podAnnotations.example\\.com/team=custody"},
		func(t *testing.T, r *rendered) {
			assert.Equal(t, "custody", podOf(t, r, coordinatorName).Annotations["example.com/team"])
		},
	},
	"coordinator.podLabels label its pods, the chart's labels kept": {
		"mpc-system", []string{"coordinator.podLabels.example\\.com/cost-center=mpc", "coordinator.podLabels.app\\.kubernetes\\.io/part-of=other"},
		func(t *testing.T, r *rendered) {
			l := podOf(t, r, coordinatorName).Labels
			assert.Equal(t, "mpc", l["example.com/cost-center"])
			assert.Equal(t, "mpc-system", l["app.kubernetes.io/part-of"], "the chart's label wins")
		},
	},
	"coordinator.priorityClassName sets its priority": {
		"mpc-system", []string{"coordinator.priorityClassName=mpc-critical"},
		func(t *testing.T, r *rendered) {
			assert.Equal(t, "mpc-critical", podOf(t, r, coordinatorName).Spec.PriorityClassName)
		},
	},
	"runtimeClassName runs a workload's pods in a sandboxed runtime": {
		"mpc-system", []string{"pools.server-party.runtimeClassName=gvisor", "mpcguard.runtimeClassName=gvisor"},
		func(t *testing.T, r *rendered) {
			assert.Equal(t, "gvisor", *podOf(t, r, persistent).Spec.RuntimeClassName)
			assert.Equal(t, "gvisor", *podOf(t, r, webhook).Spec.RuntimeClassName)
			assert.Nil(t, podOf(t, r, coordinatorName).Spec.RuntimeClassName)
		},
	},
	"coordinator.extraEnv adds variables before the chart's": {
		"mpc-system", []string{"coordinator.extraEnv[0].name=LOG_FORMAT", "coordinator.extraEnv[0].value=json"},
		func(t *testing.T, r *rendered) {
			env := podOf(t, r, coordinatorName).Spec.Containers[0].Env
			assert.Equal(t, corev1.EnvVar{Name: "LOG_FORMAT", Value: "json"}, env[0])
			assert.Greater(t, len(env), 1, "the chart's variables follow")
		},
	},
	"coordinator.extraVolumes and extraVolumeMounts add a volume to the pod and its container": {
		"mpc-system", []string{"coordinator.extraVolumes[0].name=ca", "coordinator.extraVolumes[0].configMap.name=ca",
			"coordinator.extraVolumeMounts[0].name=ca", "coordinator.extraVolumeMounts[0].mountPath=/etc/ca"},
		func(t *testing.T, r *rendered) {
			pod := podOf(t, r, coordinatorName)
			assert.Contains(t, pod.Spec.Volumes, corev1.Volume{Name: "ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}}}})
			assert.Contains(t, pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "ca", MountPath: "/etc/ca"})
			assert.Contains(t, pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"}, "the chart's stay")
		},
	},
	"coordinator.topologySpreadConstraints spread its pods": {
		"mpc-system", []string{"coordinator.topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
			"coordinator.topologySpreadConstraints[0].maxSkew=1", "coordinator.topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway"},
		func(t *testing.T, r *rendered) {
			tsc := podOf(t, r, coordinatorName).Spec.TopologySpreadConstraints
			require.Len(t, tsc, 1)
			assert.Equal(t, corev1.LabelHostname, tsc[0].TopologyKey)
		},
	},
	"coordinator.affinity sets its node affinity": {
		"mpc-system", []string{"coordinator.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=enclave",
			"coordinator.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists"},
		func(t *testing.T, r *rendered) {
			a := podOf(t, r, coordinatorName).Spec.Affinity
			require.NotNil(t, a)
			require.NotNil(t, a.NodeAffinity)
			assert.Equal(t, "enclave", a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key)
		},
	},
	"coordinator.serviceAccount.annotations annotate its ServiceAccount for cloud IAM": {
		"mpc-system", []string{"coordinator.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/mpc"},
		func(t *testing.T, r *rendered) {
			for _, sa := range objectsOf[*corev1.ServiceAccount](r) {
				if sa.Name == coordinatorName {
					assert.Equal(t, "arn:aws:iam::1:role/mpc", sa.Annotations["eks.amazonaws.com/role-arn"])
					return
				}
			}
			assert.Fail(t, "no coordinator ServiceAccount")
		},
	},
	"coordinator.podSecurityContext.runAsUser runs it as that user, still restricted": {
		"mpc-system", []string{"coordinator.podSecurityContext.runAsUser=10001"},
		func(t *testing.T, r *rendered) {
			sc := podOf(t, r, coordinatorName).Spec.SecurityContext
			assert.EqualValues(t, 10001, *sc.RunAsUser)
			assert.True(t, *sc.RunAsNonRoot)
		},
	},
	"coordinator.resources size its container": {
		"mpc-system", []string{"coordinator.resources.limits.memory=1Gi"},
		func(t *testing.T, r *rendered) {
			assert.Equal(t, "1Gi", podOf(t, r, coordinatorName).Spec.Containers[0].Resources.Limits.Memory().String())
		},
	},
	"pools.server-party.replicas=5 scales the persistent pool": {
		"mpc-system", []string{"pools.server-party.replicas=5"},
		func(t *testing.T, r *rendered) {
			for _, s := range objectsOf[*appsv1.StatefulSet](r) {
				assert.EqualValues(t, 5, *s.Spec.Replicas)
			}
		},
	},
	"a pool's nodeSelector, tolerations and priority pin its parties to dedicated nodes": {
		"mpc-system", []string{"pools.server-party.nodeSelector.node-role/enclave=yes-please", "pools.server-party.tolerations[0].key=enclave",
			"pools.server-party.tolerations[0].operator=Exists", "pools.server-party.priorityClassName=mpc-critical"},
		func(t *testing.T, r *rendered) {
			pod := podOf(t, r, persistent)
			assert.Equal(t, map[string]string{"node-role/enclave": "yes-please"}, pod.Spec.NodeSelector)
			assert.Equal(t, "enclave", pod.Spec.Tolerations[0].Key)
			assert.Equal(t, "mpc-critical", pod.Spec.PriorityClassName)
			assert.Empty(t, podOf(t, r, delegate).Spec.NodeSelector, "other pools keep theirs")
		},
	},
	"a pool's affinity adds anti-affinity terms to the chart's, never replaces them": {
		"mpc-system", []string{"pools.server-party.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight=10",
			"pools.server-party.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey=topology.kubernetes.io/zone",
			"pools.server-party.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels.mpc\\.mpcguard\\.io/pool=server-party"},
		func(t *testing.T, r *rendered) {
			aa := podOf(t, r, persistent).Spec.Affinity.PodAntiAffinity
			require.Len(t, aa.RequiredDuringSchedulingIgnoredDuringExecution, 1, "the chart's required term stays")
			require.Len(t, aa.PreferredDuringSchedulingIgnoredDuringExecution, 1)
			assert.Equal(t, corev1.LabelTopologyZone, aa.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey)
		},
	},
	"a pool's topologySpreadConstraints are added to the zone spread": {
		"mpc-system", []string{"pools.server-party.topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname",
			"pools.server-party.topologySpreadConstraints[0].maxSkew=1", "pools.server-party.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule"},
		func(t *testing.T, r *rendered) {
			tsc := podOf(t, r, persistent).Spec.TopologySpreadConstraints
			require.Len(t, tsc, 2)
			assert.Equal(t, corev1.LabelTopologyZone, tsc[0].TopologyKey)
			assert.Equal(t, corev1.LabelHostname, tsc[1].TopologyKey)
		},
	},
	"a pool's extraEnv, extraVolumes and podAnnotations reach its parties, the chart's variables winning": {
		"mpc-system", []string{"pools.server-party-api.extraEnv[0].name=PARTY_ROLE", "pools.server-party-api.extraEnv[0].value=persistent",
			"pools.server-party-api.extraVolumes[0].name=cache", "pools.server-party-api.extraVolumes[0].emptyDir.medium=Memory",
			"pools.server-party-api.extraVolumeMounts[0].name=cache", "pools.server-party-api.extraVolumeMounts[0].mountPath=/cache",
			"pools.server-party-api.podAnnotations.a=b"},
		func(t *testing.T, r *rendered) {
			pod := podOf(t, r, delegate)
			env := pod.Spec.Containers[0].Env
			var last string
			for _, e := range env {
				if e.Name == "PARTY_ROLE" {
					last = e.Value
				}
			}
			assert.Equal(t, "delegate", last, "the chart's PARTY_ROLE comes last, so it wins")
			assert.Contains(t, pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "cache", MountPath: "/cache"})
			assert.Equal(t, "b", pod.Annotations["a"])
		},
	},
	"mpcguard.nodeSelector, tolerations, podAnnotations, priorityClassName and extraEnv reach the webhook": {
		"mpc-system", []string{"mpcguard.nodeSelector.dedicated=mpc", "mpcguard.tolerations[0].key=dedicated",
			"mpcguard.tolerations[0].operator=Exists", "mpcguard.podAnnotations.a=b", "mpcguard.priorityClassName=mpc-critical",
			"mpcguard.extraEnv[0].name=GOMEMLIMIT", "mpcguard.extraEnv[0].value=100MiB", "mpcguard.imagePullSecrets[0].name=hook"},
		func(t *testing.T, r *rendered) {
			pod := podOf(t, r, webhook)
			assert.Equal(t, map[string]string{"dedicated": "mpc"}, pod.Spec.NodeSelector)
			assert.Equal(t, "dedicated", pod.Spec.Tolerations[0].Key)
			assert.Equal(t, "b", pod.Annotations["a"])
			assert.Equal(t, "mpc-critical", pod.Spec.PriorityClassName)
			assert.Contains(t, pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "GOMEMLIMIT", Value: "100MiB"})
			assert.Contains(t, pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: "hook"})
			require.NotNil(t, pod.Spec.Affinity.PodAntiAffinity, "the chart's anti-affinity stays")
		},
	},
	"mpcguard.webhook.serviceAccount.annotations annotate the webhook's ServiceAccount": {
		"mpc-system", []string{"mpcguard.webhook.serviceAccount.annotations.iam\\.gke\\.io/gcp-service-account=hook@p.iam.gserviceaccount.com"},
		func(t *testing.T, r *rendered) {
			for _, sa := range objectsOf[*corev1.ServiceAccount](r) {
				if sa.Name == webhook {
					assert.Equal(t, "hook@p.iam.gserviceaccount.com", sa.Annotations["iam.gke.io/gcp-service-account"])
					return
				}
			}
			assert.Fail(t, "no webhook ServiceAccount")
		},
	},
	"the standalone mpcguard chart takes the same keys at its top level": {
		"mpcguard", []string{"nodeSelector.dedicated=mpc", "imagePullSecrets[0].name=regcred", "global.imageRegistry=reg:5000"},
		func(t *testing.T, r *rendered) {
			pod := podOf(t, r, "mpc-system-mpcguard-webhook")
			assert.Equal(t, map[string]string{"dedicated": "mpc"}, pod.Spec.NodeSelector)
			assert.Contains(t, pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: "regcred"})
			assert.True(t, strings.HasPrefix(pod.Spec.Containers[0].Image, "reg:5000/"))
		},
	},
}

// setValues parses --set arguments as helm does.
func setValues(t *testing.T, set []string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	for _, s := range set {
		require.NoError(t, strvals.ParseInto(s, vals), s)
	}
	return vals
}

func TestEveryExtensionPoint(t *testing.T) {
	for sentence, k := range knobs {
		t.Run(sentence, func(t *testing.T) {
			vals := setValues(t, k.set)
			r := mustRender(t, loadChart(t, k.chart), vals)
			k.check(t, r)

			lint := action.NewLint()
			lint.Strict, lint.Namespace, lint.WithSubcharts = true, releaseNamespace, true
			res := lint.Run([]string{filepath.Join(chartsDir, k.chart)}, vals)
			for _, m := range res.Messages {
				assert.Less(t, m.Severity, support.WarningSev, "lint: %s", m)
			}

			manifest := filepath.Join(t.TempDir(), "manifest.yaml")
			require.NoError(t, os.WriteFile(manifest, []byte(r.manifest), 0o600))
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(t.Context(), mpcguardBin(t), "validate", "--namespace", releaseNamespace, "-f", manifest)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "mpcguard validate: %s%s", stdout.String(), stderr.String())
			assert.Empty(t, strings.TrimSpace(stdout.String()), "no violation is reported")
		})
	}
}

func TestExtensionPointsLoosenNothing(t *testing.T) {
	ch := loadChart(t, "mpc-system")
	cases := map[string]struct {
		set  []string
		want string
	}{
		"an unknown key is refused with its name":            {[]string{"coordinator.nodeSelectorr.a=b"}, "nodeSelectorr"},
		"root is refused":                                    {[]string{"coordinator.podSecurityContext.runAsUser=0"}, "/coordinator/podSecurityContext/runAsUser"},
		"a pod label that changes a party's role":            {[]string{"pools.server-party-api.podLabels.party-role=persistent"}, "pools.server-party-api.podLabels: must not set party-role"},
		"a pod label that makes the coordinator a party":     {[]string{"coordinator.podLabels.app\\.kubernetes\\.io/component=mpc-party"}, "coordinator.podLabels: must not set app.kubernetes.io/component"},
		"a webhook pod label that makes the webhook a party": {[]string{"mpcguard.podLabels.party-role=delegate"}, "mpcguard: podLabels: must not set party-role"},
		"a securityContext key the chart does not expose":    {[]string{"coordinator.securityContext.privileged=true"}, "securityContext"},
	}
	for name, tc := range cases {
		t.Run("refuses "+name, func(t *testing.T) {
			_, err := render(t, ch, setValues(t, tc.set))
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// The ServiceMonitor is rendered only when asked for and where the cluster serves its API.
func TestServiceMonitor(t *testing.T) {
	renderWith := func(apis []string, set ...string) string { return renderWithAPIs(t, apis, set...) }
	monitoring := []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"}
	assert.NotContains(t, renderWith(monitoring), "kind: ServiceMonitor", "off by default")
	assert.NotContains(t, renderWith(nil, "mpcguard.serviceMonitor.enabled=true"), "kind: ServiceMonitor", "not without the API")
	m := renderWith(monitoring, "mpcguard.serviceMonitor.enabled=true", "mpcguard.serviceMonitor.labels.release=prometheus")
	assert.Contains(t, m, "kind: ServiceMonitor")
	assert.Contains(t, m, "release: prometheus")
	assert.Contains(t, m, "- port: metrics")
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// mpcguardBin builds cmd/mpcguard once for the package's tests.
func mpcguardBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mpcguard-charts-test")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "mpcguard")
		build := exec.Command("go", "build", "-o", binPath, "./cmd/mpcguard")
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	require.NoError(t, binErr, "go build ./cmd/mpcguard: %s", binPath)
	return binPath
}
