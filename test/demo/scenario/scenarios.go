package scenario

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
)

// Labels the chart puts on its pods.
const (
	ComponentLabel = "app.kubernetes.io/component"
	PartyComponent = "mpc-party"
	RoleLabel      = vocab.DefaultRoleLabelKey
)

// Placement is where the scheduler put a party pod.
type Placement struct {
	Pod, Role, Node, Zone string
	Ready                 bool
}

// Parties lists the party pods in the release's namespace with the given role ("" for all), sorted by name.
func (r *Release) Parties(ctx context.Context, role string) ([]Placement, error) {
	sel := ComponentLabel + "=" + PartyComponent
	if role != "" {
		sel += "," + RoleLabel + "=" + role
	}
	return r.Pods(ctx, sel)
}

// Pods lists the pods in the release's namespace that match the label selector, sorted by name.
func (r *Release) Pods(ctx context.Context, selector string) ([]Placement, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("selector %q: %w", selector, err)
	}
	var pods corev1.PodList
	if err := r.env.Client.List(ctx, &pods, client.InNamespace(r.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing pods %s: %w", selector, err)
	}
	zones := map[string]string{}
	var nodes corev1.NodeList
	if err := r.env.Client.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	for _, n := range nodes.Items {
		zones[n.Name] = n.Labels[cluster.LabelZone]
	}
	var out []Placement
	for _, p := range pods.Items {
		out = append(out, Placement{Pod: p.Name, Role: p.Labels[RoleLabel], Node: p.Spec.NodeName,
			Zone: zones[p.Spec.NodeName], Ready: PodReady(&p)})
	}
	slices.SortFunc(out, func(a, b Placement) int { return cmp.Compare(a.Pod, b.Pod) })
	return out, nil
}

// PodReady tells whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Access is one SubjectAccessReview: may User do Verb on Resource in Namespace?
type Access struct {
	User, Verb, Resource, Namespace string
	Allowed                         bool
	Reason                          string
}

// CoordinatorServiceAccount is the ServiceAccount the coordinator Deployment runs as.
func (r *Release) CoordinatorServiceAccount(ctx context.Context) (string, error) {
	var ds appsv1.DeploymentList
	if err := r.env.Client.List(ctx, &ds, client.InNamespace(r.Namespace),
		client.MatchingLabels{ComponentLabel: "coordinator", "app.kubernetes.io/instance": r.Name}); err != nil {
		return "", fmt.Errorf("listing the coordinator Deployment: %w", err)
	}
	if len(ds.Items) != 1 {
		return "", fmt.Errorf("want one coordinator Deployment in %s, found %d", r.Namespace, len(ds.Items))
	}
	return ds.Items[0].Spec.Template.Spec.ServiceAccountName, nil
}

// CoordinatorAccess asks the API server (SubjectAccessReview) what the coordinator's ServiceAccount may do:
// discover party pods, and read or list Secrets.
func (r *Release) CoordinatorAccess(ctx context.Context) ([]Access, error) {
	sa, err := r.CoordinatorServiceAccount(ctx)
	if err != nil {
		return nil, err
	}
	user := fmt.Sprintf("system:serviceaccount:%s:%s", r.Namespace, sa)
	checks := []Access{
		{User: user, Verb: "list", Resource: "pods", Namespace: r.Namespace},
		{User: user, Verb: "watch", Resource: "pods", Namespace: r.Namespace},
		{User: user, Verb: "get", Resource: "secrets", Namespace: r.Namespace},
		{User: user, Verb: "list", Resource: "secrets", Namespace: r.Namespace},
		{User: user, Verb: "list", Resource: "pods", Namespace: "kube-system"},
	}
	for i, c := range checks {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   c.User,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + r.Namespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: c.Namespace, Verb: c.Verb, Resource: c.Resource},
		}}
		got, err := r.env.Cluster.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("SubjectAccessReview %s %s: %w", c.Verb, c.Resource, err)
		}
		checks[i].Allowed, checks[i].Reason = got.Status.Allowed, got.Status.Reason
	}
	return checks, nil
}

// UnlabelledParty is a pod that the party selector makes a party pod, without a role label. Its security
// context passes the restricted Pod Security Standard, so only mpcguard has a reason to reject it.
func (r *Release) UnlabelledParty(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: map[string]string{ComponentLabel: PartyComponent}},
		Spec:       RestrictedPodSpec("ghcr.io/mpcguard/mpc-server-party:0.1.0"),
	}
}

// RestrictedPodSpec is a one-container pod spec that the restricted Pod Security Standard admits.
func RestrictedPodSpec(image string) corev1.PodSpec {
	f := false
	t := true
	return corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &t,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{Name: "party", Image: image,
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &f,
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}},
	}
}

// Session is an MPCSession of type sign in the release namespace.
func (r *Release) Session(name string, t, n int32, c *v1alpha1.Composition) *v1alpha1.MPCSession {
	return &v1alpha1.MPCSession{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace},
		Spec: v1alpha1.MPCSessionSpec{Type: v1alpha1.SessionSign,
			Threshold: v1alpha1.Threshold{T: t, N: n}, Composition: c},
	}
}
