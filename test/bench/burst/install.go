package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/mpcguard/mpcguard/test/bench"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

const (
	namespace = scenario.DemoNamespace
	release   = scenario.DemoRelease
	// policyName names the ValidatingAdmissionPolicy and its binding.
	policyName = "mpc-party-role"
)

// install creates the restricted namespace, starts `mpcguard webhook` with the arguments the chart gives its
// own webhook Deployment, and installs charts/mpc-system with its webhook configuration pointing at that local
// process, waiting until every workload is Ready (as test/demo/scenario does).
func install(ctx context.Context, c *cluster.Cluster, bin, dir string) (*cluster.Webhook, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	root, err := cluster.RepoRoot()
	if err != nil {
		return nil, err
	}
	chartDir := filepath.Join(root, "charts", "mpc-system")
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", chartDir, err)
	}
	args, err := scenario.ChartWebhookArgs(ctx, chrt, nil, release, namespace)
	if err != nil {
		return nil, err
	}
	bench.Step("starting mpcguard webhook on 127.0.0.1: %s", strings.Join(args, " "))
	hook, err := cluster.StartWebhook(ctx, cluster.WebhookOptions{Bin: bin, Kubeconfig: c.Kubeconfig, Args: args,
		Dir: filepath.Join(dir, "webhook")})
	if err != nil {
		return nil, err
	}
	values := map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{
		"url": hook.URL, "caBundle": base64.StdEncoding.EncodeToString(hook.CABundle)}}}
	bench.Step("helm install %s %s --namespace %s --set mpcguard.webhook.url=%s --wait", release, chartDir, namespace, hook.URL)
	if _, err := c.HelmInstall(ctx, cluster.HelmRelease{Name: release, Namespace: namespace, Chart: chrt, Values: values}); err != nil {
		return hook, err
	}
	return hook, nil
}

// waitEnforced waits until a dry-run create of a party pod without a role is refused with want in the
// message: the API server has picked up the webhook configuration or the policy.
func waitEnforced(ctx context.Context, cs kubernetes.Interface, want string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe-unlabelled", Namespace: namespace,
			Labels: map[string]string{scenario.ComponentLabel: scenario.PartyComponent}},
		Spec: scenario.RestrictedPodSpec("ghcr.io/mpcguard/mpc-server-party:0.1.0"),
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		_, err := cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), want) {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			//nolint:errorlint // the last answer, possibly nil, is for the reader; the cause is ctx.Err()
			return fmt.Errorf("a party pod without a role was not refused with %q (last answer: %v): %w", want, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// webhookNames are the names of the mpcguard webhooks in the cluster's ValidatingWebhookConfigurations.
func webhookNames(ctx context.Context, cs kubernetes.Interface) (configs, hooks []string, err error) {
	list, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("listing ValidatingWebhookConfigurations: %w", err)
	}
	for _, vwc := range list.Items {
		mine := false
		for _, w := range vwc.Webhooks {
			if strings.HasSuffix(w.Name, ".mpcguard.io") {
				hooks = append(hooks, w.Name)
				mine = true
			}
		}
		if mine {
			configs = append(configs, vwc.Name)
		}
	}
	if len(configs) == 0 {
		return nil, nil, errors.New("no ValidatingWebhookConfiguration has an mpcguard webhook")
	}
	return configs, hooks, nil
}

// switchToPolicy deletes the mpcguard webhook configurations, stops the webhook and adds the
// ValidatingAdmissionPolicy and its binding, waiting until the policy is enforced.
func switchToPolicy(ctx context.Context, cs kubernetes.Interface, configs []string, hook *cluster.Webhook) error {
	for _, name := range configs {
		bench.Step("deleting ValidatingWebhookConfiguration %s", name)
		if err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("deleting ValidatingWebhookConfiguration %s: %w", name, err)
		}
	}
	if err := hook.Stop(); err != nil {
		return fmt.Errorf("stopping the webhook: %w", err)
	}
	bench.Step("creating ValidatingAdmissionPolicy and binding %s (CEL: party pods carry a valid party-role)", policyName)
	policy, binding := roleLabelPolicy()
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating ValidatingAdmissionPolicy %s: %w", policyName, err)
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating ValidatingAdmissionPolicyBinding %s: %w", policyName, err)
	}
	return waitEnforced(ctx, cs, policyMessage)
}

const policyMessage = "party pods need the party-role label: persistent, delegate or temporary"

// roleLabelPolicy is the floor: only party-role-required and party-role-valid, in CEL, for pods that match the
// party selector in the release namespace.
func roleLabelPolicy() (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: policyName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{scenario.ComponentLabel: scenario.PartyComponent}},
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
						Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
							Resources: []string{"pods"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
					},
				}},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: `has(object.metadata.labels) && '` + scenario.RoleLabel + `' in object.metadata.labels && ` +
					`object.metadata.labels['` + scenario.RoleLabel + `'] in ['persistent', 'delegate', 'temporary']`,
				Message: policyMessage,
				Reason:  ptr.To(metav1.StatusReasonForbidden),
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policyName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policyName,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: namespace}}},
		},
	}
	return policy, binding
}
