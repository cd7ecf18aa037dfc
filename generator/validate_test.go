package generator_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mpcguard/mpcguard/generator"
)

// fieldErrors renders errors as "path: detail" for comparison.
func fieldErrors(errs field.ErrorList) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Field + ": " + e.ErrorBody()
	}
	return out
}

func TestValidateRejectsBadSpecs(t *testing.T) {
	cases := map[string]struct {
		mutate func(*generator.Spec)
		path   string
		msg    string
	}{
		"rejects a chart without a name":                       {func(s *generator.Spec) { s.Chart.Name = "" }, "chart.name", "Required value"},
		"rejects a chart version that is not SemVer":           {func(s *generator.Spec) { s.Chart.Version = "v1" }, "chart.version", "SemVer 2"},
		"rejects an image tagged latest":                       {func(s *generator.Spec) { s.Images.Party.Tag = "latest" }, "images.party.tag", "latest is not a pinned version"},
		"rejects an image neither tagged nor digested":         {func(s *generator.Spec) { s.Images.Webhook.Tag = "" }, "images.webhook.tag", "pin the image by tag or digest"},
		"rejects a malformed digest":                           {func(s *generator.Spec) { s.Images.Coordinator.Digest = "sha256:abc" }, "images.coordinator.digest", "64 hex digits"},
		"rejects a repository carrying a tag":                  {func(s *generator.Spec) { s.Images.Test.Repository = "busybox:1.37" }, "images.test.repository", "without tag or digest"},
		"rejects an invalid role label key":                    {func(s *generator.Spec) { s.Party.RoleLabelKey = "party role" }, "party.roleLabelKey", "Invalid value"},
		"rejects an empty party selector":                      {func(s *generator.Spec) { s.Party.Selector = nil }, "party.selector", "Required value"},
		"rejects a party selector using the role label":        {func(s *generator.Spec) { s.Party.Selector["party-role"] = "persistent" }, "party.selector[party-role]", "the charts set this label themselves"},
		"rejects a party selector matching the webhook's pods": {func(s *generator.Spec) { s.Party.Selector["app.kubernetes.io/component"] = "admission-webhook" }, "party.selector[app.kubernetes.io/component]", "webhook's own pods"},
		"rejects a party port out of range":                    {func(s *generator.Spec) { s.Party.Port = 70000 }, "party.port", "between 1 and 65535"},
		"rejects a discovery interval that is not a duration":  {func(s *generator.Spec) { s.Coordinator.Discovery.Interval = "30" }, "coordinator.discovery.interval", "duration"},
		"rejects a coordinator without replicas":               {func(s *generator.Spec) { s.Coordinator.Replicas = 0 }, "coordinator.replicas", "at least 1"},
		"rejects a container without a memory limit":           {func(s *generator.Spec) { s.Coordinator.Resources.Limits.Memory = "" }, "coordinator.resources.limits.memory", "requests and limits"},
		"rejects requests above limits":                        {func(s *generator.Spec) { s.Pools[0].Resources.Requests.CPU = "2" }, "pools[0].resources.requests.cpu", "must not exceed the limit 1"},
		"rejects t above n":                                    {func(s *generator.Spec) { s.Threshold = generator.ThresholdSpec{T: 4, N: 3} }, "threshold.t", "must not exceed n=3"},
		"rejects t of zero":                                    {func(s *generator.Spec) { s.Threshold.T = 0 }, "threshold.t", "at least 1"},
		"rejects fewer persistent parties than the default t":  {func(s *generator.Spec) { s.Pools[0].Replicas = 1 }, "pools[0].replicas", "fewer persistent parties than the default threshold t=2: the strict persistent-only default could never sign"},
		"rejects a spec without a persistent pool":             {func(s *generator.Spec) { s.Pools = s.Pools[1:] }, "pools", "exactly one pool must have role persistent"},
		"rejects a second persistent pool":                     {func(s *generator.Spec) { s.Pools = append(s.Pools, s.Pools[0]); s.Pools[2].Name = "other" }, "pools[2].role", "only one pool may be persistent"},
		"rejects two pools of one name":                        {func(s *generator.Spec) { s.Pools[1].Name = s.Pools[0].Name }, "pools[1].name", "Duplicate value"},
		"rejects an unknown role":                              {func(s *generator.Spec) { s.Pools[1].Role = "admin" }, "pools[1].role", "Unsupported value"},
		"rejects a persistent pool without share storage":      {func(s *generator.Spec) { s.Pools[0].ShareStorage = nil }, "pools[0].shareStorage", "volumeClaim or a databaseSecret"},
		"rejects share storage on a delegate pool": {func(s *generator.Spec) {
			s.Pools[1].ShareStorage = &generator.ShareStorageSpec{DatabaseSecret: &generator.DatabaseSecretSpec{Name: "db", Key: "url", Env: "DB"}}
		}, "pools[1].shareStorage", "persistent party in disguise"},
		"rejects both a volume claim and a database Secret": {func(s *generator.Spec) {
			s.Pools[0].ShareStorage.DatabaseSecret = &generator.DatabaseSecretSpec{Name: "db", Key: "url", Env: "DB"}
		}, "pools[0].shareStorage", "not both"},
		"rejects a relative mount path": {func(s *generator.Spec) { s.Pools[0].ShareStorage.VolumeClaim.MountPath = "shares" }, "pools[0].shareStorage.volumeClaim.mountPath", "absolute path"},
		"rejects a database Secret env that is no variable name": {func(s *generator.Spec) {
			s.Pools[0].ShareStorage = &generator.ShareStorageSpec{DatabaseSecret: &generator.DatabaseSecretSpec{Name: "db", Key: "url", Env: "DATABASE-URL"}}
		}, "pools[0].shareStorage.databaseSecret.env", "environment variable name"},
		"rejects an unknown anti-affinity":                   {func(s *generator.Spec) { s.Placement.PersistentAntiAffinity = "strict" }, "placement.persistentAntiAffinity", "Unsupported value"},
		"rejects required anti-affinity for delegates":       {func(s *generator.Spec) { s.Placement.DelegateAntiAffinity = "required" }, "placement.delegateAntiAffinity", "Unsupported value"},
		"rejects a zone skew of zero":                        {func(s *generator.Spec) { s.Placement.ZoneSpread.MaxSkew = 0 }, "placement.zoneSpread.maxSkew", "at least 1"},
		"rejects a failure policy other than Fail or Ignore": {func(s *generator.Spec) { s.Webhook.FailurePolicy = "Retry" }, "webhook.failurePolicy", "Unsupported value"},
		"rejects a webhook timeout above 30 seconds":         {func(s *generator.Spec) { s.Webhook.TimeoutSeconds = 31 }, "webhook.timeoutSeconds", "between 1 and 30"},
		"rejects kube-system among the webhook's namespaces": {func(s *generator.Spec) { s.Webhook.Namespaces = []string{"team-a", "kube-system"} }, "webhook.namespaces[1]", "never checks kube-system"},
		"rejects a namespace listed twice":                   {func(s *generator.Spec) { s.Webhook.Namespaces = []string{"a", "a"} }, "webhook.namespaces[1]", "Duplicate value"},
		"rejects an unknown certificate source":              {func(s *generator.Spec) { s.Webhook.Certificates = "vault" }, "webhook.certificates", "Unsupported value"},
		"rejects a webhook URL over plain http":              {func(s *generator.Spec) { s.Webhook.URL = "http://127.0.0.1:9443/validate" }, "webhook.url", "https URL"},
		"rejects enforcement of an unknown policy":           {func(s *generator.Spec) { s.Webhook.Enforcement = map[string]string{"no-such-policy": "warn"} }, "webhook.enforcement[no-such-policy]", "Unsupported value"},
		"rejects a discovery namespace the webhook does not check": {func(s *generator.Spec) {
			s.Coordinator.Discovery.Namespaces = []string{"mpc-parties", "team-b"}
			s.Webhook.Namespaces = []string{"mpc-parties"}
		}, "coordinator.discovery.namespaces[1]", "names a namespace the webhook does not check; add it to webhook.namespaces"},
		"rejects an unknown enforcement action": {func(s *generator.Spec) {
			s.Webhook.Enforcement = map[string]string{"session-persistent-available": "audit"}
		}, "webhook.enforcement[session-persistent-available]", "Unsupported value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := generator.DefaultSpec()
			tc.mutate(s)
			errs, _ := s.Validate()
			require.NotEmpty(t, errs)
			var found bool
			for _, e := range errs {
				if e.Field == tc.path && strings.Contains(e.Error(), tc.msg) {
					found = true
				}
			}
			assert.True(t, found, "want %s: …%s…, got %v", tc.path, tc.msg, fieldErrors(errs))
			_, _, err := generator.Generate(s)
			assert.ErrorIs(t, err, generator.ErrInvalidSpec, "Generate refuses it")
		})
	}
}

// TestValidateScope is the rule the mpc-system chart applies to its values (TestSystemChartRefusesWhatItDoesNotInstall):
// with the webhook on, every discovery namespace is one the webhook checks.
func TestValidateScope(t *testing.T) {
	cases := map[string]struct {
		mutate func(*generator.Spec)
		want   []string
	}{
		"discovery namespaces among the webhook's are fine": {func(s *generator.Spec) {
			s.Coordinator.Discovery.Namespaces = []string{"mpc-parties"}
			s.Webhook.Namespaces = []string{"mpc-parties", "team-b"}
		}, nil},
		"without the webhook nothing is checked anywhere, so there is no drift": {func(s *generator.Spec) {
			s.Coordinator.Discovery.Namespaces = []string{"mpc-parties"}
			s.Webhook.Enabled = false
		}, nil},
		"every missing namespace is named": {func(s *generator.Spec) {
			s.Coordinator.Discovery.Namespaces = []string{"a", "b"}
		}, []string{
			`coordinator.discovery.namespaces[0]: Invalid value: "a": names a namespace the webhook does not check; add it to webhook.namespaces, or the coordinator discovers parties there that no policy checked`,
			`coordinator.discovery.namespaces[1]: Invalid value: "b": names a namespace the webhook does not check; add it to webhook.namespaces, or the coordinator discovers parties there that no policy checked`,
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := generator.DefaultSpec()
			tc.mutate(s)
			errs, _ := s.Validate()
			assert.Equal(t, tc.want, fieldErrorsOrNil(errs))
		})
	}
}

func fieldErrorsOrNil(errs field.ErrorList) []string {
	if len(errs) == 0 {
		return nil
	}
	return fieldErrors(errs)
}

func TestValidateReturnsEveryError(t *testing.T) {
	s := generator.DefaultSpec()
	s.Chart.Name = ""
	s.Images.Party.Tag = "latest"
	s.Threshold.T = 5
	s.Webhook.TimeoutSeconds = 0
	errs, _ := s.Validate()
	assert.ElementsMatch(t, []string{
		"chart.name: Required value: the chart needs a name",
		"images.party.tag: Invalid value: \"latest\": latest is not a pinned version; name a release tag or a digest",
		"threshold.t: Invalid value: 5: must not exceed n=3 (t-of-n: any t of the n parties can sign)",
		"pools[0].replicas: Invalid value: 3: fewer persistent parties than the default threshold t=5: the strict persistent-only default could never sign",
		"webhook.timeoutSeconds: Invalid value: 0: must be between 1 and 30",
	}, fieldErrors(errs))
}

func TestValidateWarns(t *testing.T) {
	cases := map[string]struct {
		mutate func(*generator.Spec)
		want   []string
	}{
		"nothing for the default spec": {func(*generator.Spec) {}, nil},
		"when delegate and temporary parties together reach t": {func(s *generator.Spec) {
			s.Pools = append(s.Pools, generator.PoolSpec{Name: "temp", Role: generator.RoleTemporary, Replicas: 1, Resources: s.Pools[1].Resources})
		}, []string{"pools: 2 delegate and temporary parties reach the default threshold t=2: sessions must keep non-persistent parties below t (mpcguard denies any that do not)"}},
		"when a single webhook replica fails closed": {func(s *generator.Spec) { s.Webhook.Replicas = 1 }, []string{
			"webhook.replicas: a single replica with failurePolicy Fail blocks party pods whenever it is down; run two or more",
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := generator.DefaultSpec()
			tc.mutate(s)
			errs, warns := s.Validate()
			assert.Empty(t, errs)
			var got []string
			for _, w := range warns {
				got = append(got, w.String())
			}
			assert.Equal(t, tc.want, got)
			_, genWarns, err := generator.Generate(s)
			require.NoError(t, err, "warnings do not stop generation")
			assert.Equal(t, warns, genWarns)
		})
	}
}

func TestPresets(t *testing.T) {
	cases := map[string]struct {
		t, n                 int32
		persistent, delegate int32
	}{
		"default": {2, 3, 3, 1},
		"seed":    {2, 3, 3, 1},
		"kms-13":  {5, 13, 13, 0},
	}
	require.ElementsMatch(t, []string{"default", "seed", "kms-13"}, generator.PresetNames())
	for name, tc := range cases {
		t.Run(name+" is valid and has its parties", func(t *testing.T) {
			s, err := generator.Preset(name)
			require.NoError(t, err)
			errs, warns := s.Validate()
			assert.Empty(t, errs)
			assert.Empty(t, warns)
			assert.Equal(t, generator.ThresholdSpec{T: tc.t, N: tc.n}, s.Threshold)
			var persistent, delegate int32
			for _, p := range s.Pools {
				switch p.Role {
				case generator.RolePersistent:
					persistent += p.Replicas
				case generator.RoleDelegate:
					delegate += p.Replicas
				}
			}
			assert.Equal(t, tc.persistent, persistent)
			assert.Equal(t, tc.delegate, delegate)
		})
	}
	t.Run("kms-13 tolerates 4 corruptions", func(t *testing.T) {
		s := generator.KMS13Spec()
		assert.Equal(t, int32(4), s.Threshold.T-1, "tss-lib's parameter t-1 is the corruptions tolerated")
	})
	t.Run("an unknown preset is an error", func(t *testing.T) {
		_, err := generator.Preset("kms-7")
		assert.ErrorIs(t, err, generator.ErrUnknownPreset)
	})
}
