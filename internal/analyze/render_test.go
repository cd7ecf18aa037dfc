package analyze_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/analyze"
	"github.com/mpcguard/mpcguard/internal/validate"
)

func decode(t *testing.T, yaml string) []validate.Decoded {
	t.Helper()
	objs, rep := validate.Decode([]validate.Source{{Name: "in.yaml", Data: []byte(yaml), Named: true}}, nil, "in.yaml")
	require.Empty(t, rep.Errors)
	return objs
}

const renderYAML = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: shares, namespace: mpc}
spec:
  replicas: 3
  template:
    metadata:
      labels: {app.kubernetes.io/component: mpc-party, party-role: persistent, pool: shares}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {pool: shares}}}
      topologySpreadConstraints:
      - {topologyKey: topology.kubernetes.io/zone, maxSkew: 1, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {pool: shares}}}
      containers: [{name: party, image: party:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: mpc}
spec:
  replicas: 1
  template:
    metadata:
      labels: {app.kubernetes.io/component: mpc-party, party-role: delegate, pool: api}
    spec:
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {pool: api}}}
      topologySpreadConstraints:
      - {topologyKey: topology.kubernetes.io/zone, maxSkew: 1, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {pool: api}}}
      containers: [{name: party, image: party:1}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: mpc}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}, minReplicas: 1, maxReplicas: 4}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coordinator, namespace: mpc}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/component: coordinator}}
    spec: {containers: [{name: c, image: c:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: odd, namespace: mpc}
spec:
  template:
    metadata: {labels: {app.kubernetes.io/component: mpc-party, party-role: admin}}
    spec: {containers: [{name: c, image: c:1}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: shares, namespace: mpc}
spec: {minAvailable: 2, selector: {matchLabels: {pool: shares}}}
`

func TestReadRender(t *testing.T) {
	r, err := analyze.ReadRender(decode(t, renderYAML), analyze.DefaultConfig())
	require.NoError(t, err)
	require.Len(t, r.Pools, 2, "the coordinator is not a party, and a party with an invalid role is a note")
	shares, api := r.Pools[0], r.Pools[1]

	assert.Equal(t, "persistent", shares.Role)
	assert.Equal(t, 3, shares.Replicas)
	assert.Equal(t, analyze.Spacing{AntiAffinity: analyze.Required}, shares.Node, "required anti-affinity on hostname is read")
	assert.Equal(t, analyze.Spacing{AntiAffinity: analyze.None, MaxSkew: 1}, shares.Zone, "a DoNotSchedule zone spread is read")

	assert.Equal(t, "delegate", api.Role)
	assert.Equal(t, 4, api.Replicas, "a HorizontalPodAutoscaler's maxReplicas is the most the pool runs")
	assert.Equal(t, "HorizontalPodAutoscaler mpc/api", api.ScaledBy)
	assert.Equal(t, analyze.Spacing{AntiAffinity: analyze.Preferred}, api.Node, "preferred anti-affinity is read")
	assert.Equal(t, analyze.Spacing{AntiAffinity: analyze.None}, api.Zone, "a ScheduleAnyway spread bounds nothing")

	require.Len(t, r.Notes, 1)
	assert.Contains(t, r.Notes[0], `in.yaml: document 5 (line 49): Deployment mpc/odd runs parties with role "admin"`)
	require.Len(t, r.PDBs, 1)
	assert.Equal(t, "2", r.PDBs[0].MinAvailable.String())
}

func TestReadRenderNamesTheObjectItCannotRead(t *testing.T) {
	_, err := analyze.ReadRender(decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec: {replicas: three}\n"), analyze.DefaultConfig())
	require.ErrorIs(t, err, analyze.ErrInput)
	assert.Contains(t, err.Error(), "in.yaml: document 2 (line 5): StatefulSet: cannot read object")
}

func TestWebhookThreshold(t *testing.T) {
	tests := map[string]struct {
		args    []string
		want    int
		wantErr bool
	}{
		"--threshold-t=N is read":           {args: []string{"--tls-dir=/x", "--threshold-t=5"}, want: 5},
		"--threshold-t N is read":           {args: []string{"--threshold-t", "3"}, want: 3},
		"no --threshold-t is 0":             {args: []string{"--role-label-key=party-role"}, want: 0},
		"a --threshold-t that is no number": {args: []string{"--threshold-t=two"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := analyze.WebhookThreshold(tc.args)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	cfg := analyze.WebhookConfig([]string{"--role-label-key=tier", "--party-selector=app=p"}, analyze.DefaultConfig())
	assert.Equal(t, analyze.Config{RoleLabelKey: "tier", PartySelector: "app=p"}, cfg)
}

func TestReadNodes(t *testing.T) {
	nodes, err := analyze.ReadNodes(decode(t, `apiVersion: v1
kind: NodeList
items:
- metadata: {name: a, labels: {topology.kubernetes.io/zone: z1, topology.kubernetes.io/region: r}}
- metadata: {name: b}
  spec: {unschedulable: true}
`))
	require.NoError(t, err)
	assert.Equal(t, []analyze.Node{{Name: "a", Zone: "z1", Region: "r"}, {Name: "b", Unschedulable: true}}, nodes)

	_, err = analyze.ReadNodes(decode(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"))
	require.ErrorIs(t, err, analyze.ErrInput)
	assert.Contains(t, err.Error(), "in.yaml: document 1 (line 1): cannot read object: a Pod, want Nodes")
}

func TestReadRenderKeepsTheVocabularyItWasReadWith(t *testing.T) {
	cfg := analyze.Config{RoleLabelKey: "mpc.example.com/role", PartySelector: "mpc.example.com/party=true"}
	r, err := analyze.ReadRender(decode(t, renderYAML), cfg)
	require.NoError(t, err)
	assert.Equal(t, cfg, r.Config, "a live cluster's parties are listed with it")
}
