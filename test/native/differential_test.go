package native

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/releaseutil"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/native"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
)

// persistentWorkloads are the StatefulSets both sides treat as the persistent pool (persistent-quorum).
var persistentWorkloads = []string{sharePool, sharePool + "-from-0", sharePool + "-from-1", sharePool + "-from-2"}

// nativeConfig is the configuration of the native policies that matches the webhook's arguments.
func nativeConfig(action vocab.Action) native.Config {
	cfg := native.DefaultConfig()
	cfg.ShareSecretNames = []string{shareSecret}
	cfg.ShareClaimPrefixes = []string{shareClaimPrefix}
	cfg.PersistentWorkloads = persistentWorkloads
	cfg.ThresholdT = threshold
	cfg.Namespaces = []string{ns}
	cfg.Enforcement = map[string]vocab.Action{}
	for _, id := range native.IDs() {
		cfg.Enforcement[id] = action
	}
	return cfg
}

// webhookArgs are the webhook's arguments for the same configuration: the policies without a native form are
// off, so that both sides judge the same rules; the others take the action.
func webhookArgs(action vocab.Action) []string {
	var enf []string
	for _, id := range vocab.PolicyIDs() {
		a := vocab.Off
		if native.Covers(id) {
			a = action
		}
		enf = append(enf, id+"="+string(a))
	}
	return []string{"--namespaces", ns, "--inventory=false", "--audit-interval", "0s",
		"--share-secret-names", shareSecret, "--share-claim-prefixes", shareClaimPrefix,
		"--persistent-workloads", strings.Join(persistentWorkloads, ","), "--threshold-t", fmt.Sprint(threshold),
		"--enforcement", strings.Join(enf, ",")}
}

// chartWebhookConfiguration renders the mpcguard chart with the webhook at url and returns its
// ValidatingWebhookConfiguration: the rules, matchConditions and namespaceSelector users install.
func chartWebhookConfiguration(t *testing.T, url string, ca []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	chrt, err := loader.Load(filepath.Join(root, "charts", "mpcguard"))
	require.NoError(t, err)
	rel, err := cluster.HelmTemplate(t.Context(), cluster.HelmRelease{Name: "mpcguard", Namespace: ns, Chart: chrt,
		Values: map[string]any{
			"webhook":      map[string]any{"url": url, "caBundle": base64.StdEncoding.EncodeToString(ca)},
			"shareStorage": map[string]any{"secretNames": []any{shareSecret}, "claimPrefixes": []any{shareClaimPrefix}},
			// The scales of these StatefulSets are sent to the webhook (a matchCondition).
			"persistentWorkloads": anyList(persistentWorkloads),
			"threshold":           map[string]any{"t": threshold},
		}}, "v1.36.3")
	require.NoError(t, err)
	for _, m := range releaseutil.SplitManifests(rel.Manifest) {
		if !strings.Contains(m, "kind: ValidatingWebhookConfiguration") {
			continue
		}
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		require.NoError(t, yaml.UnmarshalStrict([]byte(m), &vwc))
		return &vwc
	}
	t.Fatal("the chart renders no ValidatingWebhookConfiguration")
	return nil
}

// probe is a request that shows whether admission is in place: a party pod without a role.
var probe = request{name: "probe", method: "POST", path: podPath(""),
	body: mustJSON(pod("probe", labelsFor("match", "-"), "none"))}

// waitFor sends the requests until ok holds for every outcome: the API server loads webhook configurations
// and policies asynchronously. It gives up after a minute, or 15 seconds after ok first held for one of them
// (a probe that never passes is then a disagreement the comparison reports), and says so.
func waitFor(t *testing.T, s *sender, what string, reqs []request, ok func(i int, o outcome) bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(time.Minute)
	for {
		outs, err := s.sendAll(t.Context(), reqs)
		require.NoError(t, err)
		var failing []string
		for i, o := range outs {
			if !ok(i, o) {
				failing = append(failing, fmt.Sprintf("%q answered %d %v/%v %s", reqs[i].name, o.code, o.denied, o.warned, o.message))
			}
		}
		switch {
		case len(failing) == 0:
			t.Logf("%s: in place after %s", what, time.Since(start).Round(100*time.Millisecond))
			return
		case len(failing) < len(outs) && time.Until(deadline) > 15*time.Second:
			deadline = time.Now().Add(15 * time.Second)
		case time.Now().After(deadline):
			t.Logf("%s: gave up waiting after %s; still: %s", what, time.Since(start).Round(100*time.Millisecond), strings.Join(failing, "; "))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pass sends the corpus and logs how long it took.
func pass(t *testing.T, s *sender, name string, reqs []request) []outcome {
	t.Helper()
	start := time.Now()
	outs, err := s.sendAll(t.Context(), reqs)
	require.NoError(t, err)
	d := time.Since(start)
	t.Logf("%-28s %5d requests in %6s (%.0f/s)", name, len(reqs), d.Round(time.Millisecond), float64(len(reqs))/d.Seconds())
	return outs
}

// disagreement compares the answers to one request: the same status in each mode, the same policy ids as
// warnings, and in deny mode the one policy the API server names for the first failed ValidatingAdmissionPolicy
// (it reports only that one) among the webhook's.
func disagreement(webWarn, webDeny, natWarn, natDeny outcome) string {
	switch {
	case len(natWarn.unnamed) > 0:
		return fmt.Sprintf("warn mode: native warnings without a policy id: %v", natWarn.unnamed)
	case webWarn.code != natWarn.code:
		return fmt.Sprintf("warn mode: webhook %d, native %d (%s%s)", webWarn.code, natWarn.code, webWarn.message, natWarn.message)
	case !slices.Equal(webWarn.warned, natWarn.warned):
		return fmt.Sprintf("warn mode: webhook warns %v, native %v", webWarn.warned, natWarn.warned)
	case webDeny.code != natDeny.code:
		return fmt.Sprintf("deny mode: webhook %d %v, native %d %v (%s)", webDeny.code, webDeny.denied, natDeny.code, natDeny.denied, natDeny.message)
	case webDeny.code == http.StatusForbidden && !slices.Equal(webDeny.denied, webWarn.warned):
		return fmt.Sprintf("deny mode: webhook denies %v but warned %v", webDeny.denied, webWarn.warned)
	case natDeny.code == http.StatusForbidden && (len(natDeny.denied) != 1 || !slices.Contains(webDeny.denied, natDeny.denied[0])):
		return fmt.Sprintf("deny mode: native denies by %v, webhook by %v", natDeny.denied, webDeny.denied)
	}
	return ""
}

func TestTheNativePoliciesDecideEveryRequestAsTheWebhookDoes(t *testing.T) {
	c := cluster.StartT(t, cluster.Options{Nodes: 1})
	ctx := t.Context()
	s, err := newSender(c.Config)
	require.NoError(t, err)
	_, err = c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	installCRD(t, s, v1alpha1.CRDYAML, sessionsPath)
	snapshotCRD, err := yaml.Marshal(cluster.VolumeSnapshotCRD())
	require.NoError(t, err)
	installCRD(t, s, snapshotCRD, snapshotsPath)

	// The old objects of the UPDATEs exist before any admission is installed, as legacy objects would.
	corp := newCorpus(1, c.Nodes[0])
	for _, r := range corp.setup {
		o, _, err := s.do(ctx, r.method, r.path, r.body, false)
		require.NoError(t, err)
		require.True(t, o.allowed(), "creating %s: %d %s", r.name, o.code, o.message)
	}
	require.NoError(t, s.prepare(ctx, corp.requests))
	reqs := corp.requests
	t.Logf("corpus: %d requests (%d setup objects)", len(reqs), len(corp.setup))

	// Phase (a): only the webhook, first warning, then denying.
	bin, err := cluster.MpcguardBin(ctx, t.TempDir())
	require.NoError(t, err)
	hooks := map[vocab.Action]*cluster.Webhook{}
	for _, a := range []vocab.Action{vocab.Warn, vocab.Deny} {
		w, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: bin, Kubeconfig: c.Kubeconfig, Args: webhookArgs(a)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = w.Stop() })
		hooks[a] = w
	}
	vwcs := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	vwc, err := vwcs.Create(ctx, chartWebhookConfiguration(t, hooks[vocab.Warn].URL, hooks[vocab.Warn].CABundle), metav1.CreateOptions{})
	require.NoError(t, err)
	waitFor(t, s, "the webhook warning", []request{probe}, func(_ int, o outcome) bool { return slices.Contains(o.warned, vocab.PartyRoleRequired) })
	webWarn := pass(t, s, "webhook, warn", reqs)
	deny := chartWebhookConfiguration(t, hooks[vocab.Deny].URL, hooks[vocab.Deny].CABundle)
	deny.ResourceVersion = vwc.ResourceVersion
	_, err = vwcs.Update(ctx, deny, metav1.UpdateOptions{})
	require.NoError(t, err)
	waitFor(t, s, "the webhook denying", []request{probe}, func(_ int, o outcome) bool { return slices.Contains(o.denied, vocab.PartyRoleRequired) })
	webDeny := pass(t, s, "webhook, deny", reqs)
	require.NoError(t, vwcs.Delete(ctx, vwc.Name, metav1.DeleteOptions{}))
	waitFor(t, s, "no admission", []request{probe}, func(_ int, o outcome) bool { return o.allowed() && len(o.warned) == 0 })

	// One probe per native policy: the first request the webhook found violating it.
	var probes []request
	var probeIDs []string
	fired := map[string]int{}
	for i, o := range webWarn {
		for _, id := range o.warned {
			if fired[id] == 0 {
				probes, probeIDs = append(probes, reqs[i]), append(probeIDs, id)
			}
			fired[id]++
		}
	}

	// Phase (b): only the native policies, first warning, then denying.
	vaps, bindings, err := native.Policies(nativeConfig(vocab.Warn))
	require.NoError(t, err)
	apiVAPs := c.Client.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	apiBindings := c.Client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings()
	for i := range vaps {
		_, err := apiVAPs.Create(ctx, &vaps[i], metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = apiBindings.Create(ctx, &bindings[i], metav1.CreateOptions{})
		require.NoError(t, err)
	}
	waitFor(t, s, "the native policies warning", probes, func(i int, o outcome) bool { return slices.Contains(o.warned, probeIDs[i]) })
	natWarn := pass(t, s, "native policies, warn", reqs)
	for i := range bindings {
		b, err := apiBindings.Get(ctx, bindings[i].Name, metav1.GetOptions{})
		require.NoError(t, err)
		b.Spec.ValidationActions = native.ValidationActions(vocab.Deny)
		_, err = apiBindings.Update(ctx, b, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	waitFor(t, s, "the native policies denying", probes, func(_ int, o outcome) bool { return o.code == http.StatusForbidden })
	natDeny := pass(t, s, "native policies, deny", reqs)

	var disagreements int
	for i := range reqs {
		if d := disagreement(webWarn[i], webDeny[i], natWarn[i], natDeny[i]); d != "" {
			disagreements++
			if disagreements <= 40 {
				t.Errorf("%s: %s", reqs[i].name, d)
			}
		}
	}
	checkBoundaries(t, "the webhook", reqs, webDeny)
	checkBoundaries(t, "the native policies", reqs, natDeny)
	var allowed, denied, invalid int
	for _, o := range webDeny {
		switch {
		case o.allowed():
			allowed++
		case o.code == http.StatusForbidden:
			denied++
		default:
			invalid++
		}
	}
	t.Logf("%d requests: %d allowed, %d denied by a policy, %d refused before admission (invalid); %d disagreements",
		len(reqs), allowed, denied, invalid, disagreements)
	for _, id := range native.IDs() {
		t.Logf("  %-34s violated by %4d requests", id, fired[id])
	}
	for _, id := range native.IDs() {
		if fired[id] == 0 && id != vocab.SessionSpecValid {
			t.Errorf("no request of the corpus violates %s: the comparison says nothing about it", id)
		}
	}

	t.Run("a changed CEL expression is caught", func(t *testing.T) {
		// session-delegate-only-threshold with > for >=: delegate + temporary = t no longer violates it.
		name := nativeConfig(vocab.Deny).Name(vocab.SessionDelegateOnlyThreshold)
		p, err := apiVAPs.Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		before := p.Spec.Validations[0].Expression
		p.Spec.Validations[0].Expression = strings.Replace(before, "variables.delegate + variables.temporary < variables.t",
			"variables.delegate + variables.temporary <= variables.t", 1)
		require.NotEqual(t, before, p.Spec.Validations[0].Expression, "the expression to change is not in the policy")
		_, err = apiVAPs.Update(ctx, p, metav1.UpdateOptions{})
		require.NoError(t, err)
		var sessions []request
		var web []outcome
		for i, r := range reqs {
			if r.session {
				sessions, web = append(sessions, r), append(web, webDeny[i])
			}
		}
		// A session only that policy denies, with delegate + temporary = t: the changed policy lets it through.
		edge := request{name: "2 delegates, t=2", method: "POST", path: sessionsPath,
			body: mustJSON(session("edge", "sign", 2, 3, map[string]any{"persistent": 1, "delegate": 2}))}
		waitFor(t, s, "the changed policy", []request{edge}, func(_ int, o outcome) bool { return o.allowed() })
		mutated := pass(t, s, "changed native policy, deny", sessions)
		found := 0
		for i := range sessions {
			if web[i].code != mutated[i].code {
				found++
			}
		}
		t.Logf("the changed expression: %d of %d session requests decided differently", found, len(sessions))
		require.Positive(t, found, "the differential did not notice the changed expression")
	})
}

// installCRD creates a CustomResourceDefinition and waits until its resource (list at path) is served.
func installCRD(t *testing.T, s *sender, crd []byte, path string) {
	t.Helper()
	js, err := yaml.YAMLToJSON(crd)
	require.NoError(t, err)
	o, _, err := s.do(t.Context(), http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", js, false)
	require.NoError(t, err)
	require.True(t, o.allowed(), "creating the CRD of %s: %d %s", path, o.code, o.message)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		o, _, err := s.do(ctx, http.MethodGet, path, nil, false)
		if err == nil && o.allowed() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s is not served within a minute: %v %d %s", path, err, o.code, o.message)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
