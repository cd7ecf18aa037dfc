package charts_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNotesSayWhatWasInstalledAndHowToCheckIt(t *testing.T) {
	cases := map[string]struct {
		chart  string
		values map[string]any
		want   []string
		absent []string
	}{
		"mpc-system with the webhook": {"mpc-system", nil, []string{
			"pool mpc-system-server-party: 3 persistent parties",
			"pool mpc-system-server-party-api: 1 delegate party",
			"default threshold 2-of-3 (tss-lib threshold 1)",
			"kubectl -n mpc-system get pods -l app.kubernetes.io/component=mpc-party -L party-role",
			"auth can-i list pods --as=system:serviceaccount:mpc-system:mpc-system-coordinator",
			"--labels=app.kubernetes.io/component=mpc-party --dry-run=server",
		}, nil},
		"mpc-system without the webhook": {"mpc-system", values("mpcguard.enabled", false), []string{
			"no admission webhook (mpcguard.enabled=false)",
		}, []string{"--dry-run=server"}},
		"mpcguard alone": {"mpcguard", nil, []string{
			"in: mpc-system.",
			"rollout status deployment/mpc-system-mpcguard-webhook",
			"session-delegate-only-threshold",
		}, nil},
		"mpcguard outside the cluster": {"mpcguard", values("webhook.url", "https://127.0.0.1:9443/validate"), []string{
			"outside the cluster at https://127.0.0.1:9443/validate",
		}, []string{"rollout status"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, loadChart(t, tc.chart), tc.values)
			for _, w := range tc.want {
				assert.Contains(t, r.notes, w)
			}
			for _, a := range tc.absent {
				assert.NotContains(t, r.notes, a)
			}
		})
	}
}
