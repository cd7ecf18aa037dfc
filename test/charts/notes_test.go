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
		"mpc-system says where the coordinator may reach the API server": {"mpc-system", nil, []string{
			"the API server on port(s) 443, 6443 at any address (set networkPolicy.apiServer.cidrs to narrow it)",
			"clients of the coordinator need a peer of coordinator.networkPolicy.ingressFrom",
		}, []string{"WARNING"}},
		"mpc-system with the API server's address": {"mpc-system", values("networkPolicy.apiServer.cidrs", []any{"10.0.0.10/32"}), []string{
			"the API server on port(s) 443, 6443 at 10.0.0.10/32;",
		}, []string{"at any address"}},
		"mpc-system warns that a database pool cannot reach its database": {"mpc-system", values(
			"pools", map[string]any{"server-party": map[string]any{"shareStorage": map[string]any{"volumeClaim": nil,
				"databaseSecret": map[string]any{"name": "db", "key": "url", "env": "DATABASE_URL"}}}},
			"mpcguard.shareStorage", map[string]any{"secretNames": []any{"db"}, "claimPrefixes": []any{}}), []string{
			"WARNING: parties.networkPolicy.extraEgress: pools.server-party keeps its shares in a database",
		}, nil},
		"mpc-system without NetworkPolicies says so": {"mpc-system", values("networkPolicy.enabled", false), []string{
			"no NetworkPolicies (networkPolicy.enabled=false)",
		}, []string{"WARNING"}},
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
