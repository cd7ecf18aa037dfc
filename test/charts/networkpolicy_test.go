package charts_test

import (
	"fmt"
	"net"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// endpoint is one end of a connection: a pod (namespace and labels) or an address outside the cluster's pods.
type endpoint struct {
	namespace string
	labels    labels.Set
	ip        string // set for an address that is no pod (the API server, a public address)
}

func (e endpoint) String() string {
	if e.ip != "" {
		return e.ip
	}
	return fmt.Sprintf("%s/%v", e.namespace, e.labels)
}

// policies evaluates rendered NetworkPolicies as the NetworkPolicy API defines them: a connection is allowed
// when the source's egress allows it (or no Egress policy selects the source) and the destination's ingress
// allows it (or no Ingress policy selects the destination). Namespaces carry only kubernetes.io/metadata.name,
// as the API server sets it. Named ports are not used by the charts and fail the test.
type policies struct {
	t    *testing.T
	list []*networkingv1.NetworkPolicy
}

func (p policies) selectorMatches(ls *metav1.LabelSelector, set labels.Set) bool {
	p.t.Helper()
	s, err := metav1.LabelSelectorAsSelector(ls)
	require.NoError(p.t, err)
	return s.Matches(set)
}

func (p policies) peerMatches(peer networkingv1.NetworkPolicyPeer, policyNamespace string, e endpoint) bool {
	if peer.IPBlock != nil {
		if e.ip == "" {
			return false // pods are matched by selectors (their IPs are not known here)
		}
		_, cidr, err := net.ParseCIDR(peer.IPBlock.CIDR)
		require.NoError(p.t, err)
		if !cidr.Contains(net.ParseIP(e.ip)) {
			return false
		}
		for _, ex := range peer.IPBlock.Except {
			_, c, err := net.ParseCIDR(ex)
			require.NoError(p.t, err)
			if c.Contains(net.ParseIP(e.ip)) {
				return false
			}
		}
		return true
	}
	if e.ip != "" {
		return false
	}
	if peer.NamespaceSelector == nil {
		if e.namespace != policyNamespace {
			return false
		}
	} else if !p.selectorMatches(peer.NamespaceSelector, labels.Set{"kubernetes.io/metadata.name": e.namespace}) {
		return false
	}
	return peer.PodSelector == nil || p.selectorMatches(peer.PodSelector, e.labels)
}

func (p policies) portMatches(ports []networkingv1.NetworkPolicyPort, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, pp := range ports {
		want := corev1.ProtocolTCP
		if pp.Protocol != nil {
			want = *pp.Protocol
		}
		if want != proto {
			continue
		}
		if pp.Port == nil {
			return true
		}
		require.Equal(p.t, int32(0), int32(pp.Port.Type), "named port %s: the charts use numbers", pp.Port.String())
		if pp.Port.IntVal == port || (pp.EndPort != nil && port >= pp.Port.IntVal && port <= *pp.EndPort) {
			return true
		}
	}
	return false
}

func (p policies) allowedBy(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, ns string, e endpoint, port int32, proto corev1.Protocol) bool {
	if !p.portMatches(ports, port, proto) {
		return false
	}
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if p.peerMatches(peer, ns, e) {
			return true
		}
	}
	return false
}

func (p policies) has(pol *networkingv1.NetworkPolicy, typ networkingv1.PolicyType) bool {
	for _, pt := range pol.Spec.PolicyTypes {
		if pt == typ {
			return true
		}
	}
	return false
}

// allowed says whether src may open a connection to dst on port/proto.
func (p policies) allowed(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	p.t.Helper()
	if src.ip == "" {
		selected, ok := false, false
		for _, pol := range p.list {
			if pol.Namespace != src.namespace || !p.has(pol, networkingv1.PolicyTypeEgress) || !p.selectorMatches(&pol.Spec.PodSelector, src.labels) {
				continue
			}
			selected = true
			for _, r := range pol.Spec.Egress {
				ok = ok || p.allowedBy(r.To, r.Ports, pol.Namespace, dst, port, proto)
			}
		}
		if selected && !ok {
			return false
		}
	}
	if dst.ip == "" {
		selected, ok := false, false
		for _, pol := range p.list {
			if pol.Namespace != dst.namespace || !p.has(pol, networkingv1.PolicyTypeIngress) || !p.selectorMatches(&pol.Spec.PodSelector, dst.labels) {
				continue
			}
			selected = true
			for _, r := range pol.Spec.Ingress {
				ok = ok || p.allowedBy(r.From, r.Ports, pol.Namespace, src, port, proto)
			}
		}
		if selected && !ok {
			return false
		}
	}
	return true
}

// flow is one connection and whether the policies must allow it.
type flow struct {
	from, to string
	port     int32
	proto    corev1.Protocol
	allowed  bool
}

func TestNetworkPolicies(t *testing.T) {
	ch := loadChart(t, "mpc-system")
	extra := ciValues(t, "mpc-system")["extra-namespaces-values.yaml"]
	r := mustRender(t, ch, extra)
	pol := policies{t: t, list: objectsOf[*networkingv1.NetworkPolicy](r)}

	t.Run("the coordinator and the parties of every discovery namespace have a NetworkPolicy", func(t *testing.T) {
		var names []string
		for _, p := range pol.list {
			names = append(names, p.Namespace+"/"+p.Name)
			if p.Name != webhook {
				assert.ElementsMatch(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, p.Spec.PolicyTypes, p.Name)
			}
		}
		sort.Strings(names)
		assert.Equal(t, []string{"mpc-parties/mpc-system-parties", "mpc-system/mpc-system-coordinator", "mpc-system/mpc-system-mpcguard-webhook", "mpc-system/mpc-system-parties"}, names)
	})

	// The pods of the render and the pods and addresses around them.
	pods := map[string]endpoint{
		"coordinator":    {namespace: releaseNamespace, labels: coordinator(t, r).Spec.Template.Labels},
		"persistent":     {namespace: releaseNamespace, labels: podOf(t, r, persistent).Labels},
		"delegate":       {namespace: releaseNamespace, labels: podOf(t, r, delegate).Labels},
		"webhook":        {namespace: releaseNamespace, labels: webhookDeployment(t, r).Spec.Template.Labels},
		"client":         {namespace: releaseNamespace, labels: labels.Set{"app": "wallet", "mpc.mpcguard.io/coordinator-client": "true"}},
		"stranger":       {namespace: releaseNamespace, labels: labels.Set{"app": "debug"}},
		"client-outside": {namespace: "wallets", labels: labels.Set{"app": "wallet", "mpc.mpcguard.io/coordinator-client": "true"}},
		// A party of another system in the second discovery namespace: matched by the party selector alone.
		"remote-party":    {namespace: "mpc-parties", labels: labels.Set{"app.kubernetes.io/component": "mpc-party", roleKey: "persistent"}},
		"remote-stranger": {namespace: "mpc-parties", labels: labels.Set{"app": "debug"}},
		"foreign-party":   {namespace: "elsewhere", labels: labels.Set{"app.kubernetes.io/component": "mpc-party", roleKey: "persistent"}},
		"kube-dns":        {namespace: "kube-system", labels: labels.Set{"k8s-app": "kube-dns"}},
		"api-server":      {ip: "10.0.0.10"},
		"internet":        {ip: "203.0.113.7"},
	}
	for _, h := range objectsOf[*corev1.Pod](r) {
		if h.Labels["app.kubernetes.io/component"] == "test" && h.Labels["app.kubernetes.io/name"] == "mpc-system" {
			pods["helm-test"] = endpoint{namespace: h.Namespace, labels: h.Labels}
		}
	}
	require.Contains(t, pods, "helm-test")

	const party, grpc, http = 50051, 50051, 8080
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	check := func(t *testing.T, p policies, flows map[string]flow) {
		for sentence, f := range flows {
			t.Run(sentence, func(t *testing.T) {
				src, dst := pods[f.from], pods[f.to]
				assert.Equal(t, f.allowed, p.allowed(src, dst, f.port, f.proto), "%s -> %s:%d/%s", src, dst, f.port, f.proto)
			})
		}
	}
	flows := map[string]flow{
		"a persistent party reaches a delegate party on the party port":                      {"persistent", "delegate", party, tcp, true},
		"a party cannot reach another party's health port":                                   {"persistent", "delegate", http, tcp, false},
		"the coordinator reaches a party on the party port":                                  {"coordinator", "persistent", party, tcp, true},
		"a pod of the namespace that is no party cannot reach a party":                       {"stranger", "persistent", party, tcp, false},
		"the webhook cannot reach a party":                                                   {"webhook", "persistent", party, tcp, false},
		"a party reaches the coordinator's gRPC port":                                        {"persistent", "coordinator", grpc, tcp, true},
		"a party cannot reach the coordinator's HTTP port":                                   {"persistent", "coordinator", http, tcp, false},
		"a client labelled coordinator-client reaches the coordinator's gRPC port":           {"client", "coordinator", grpc, tcp, true},
		"a client labelled coordinator-client reaches the coordinator's HTTP port":           {"client", "coordinator", http, tcp, true},
		"the helm test pod reaches the coordinator's /health":                                {"helm-test", "coordinator", http, tcp, true},
		"an unlabelled pod cannot reach the coordinator":                                     {"stranger", "coordinator", grpc, tcp, false},
		"a labelled client in another namespace cannot reach the coordinator":                {"client-outside", "coordinator", grpc, tcp, false},
		"the coordinator reaches the API server on 443 (no CIDR given)":                      {"coordinator", "api-server", 443, tcp, true},
		"the coordinator reaches the API server's endpoint on 6443":                          {"coordinator", "api-server", 6443, tcp, true},
		"the coordinator cannot reach other ports of an address":                             {"coordinator", "internet", 80, tcp, false},
		"the coordinator resolves names with kube-dns over UDP":                              {"coordinator", "kube-dns", 53, udp, true},
		"the coordinator cannot reach a client":                                              {"coordinator", "client", grpc, tcp, false},
		"a party resolves names with kube-dns over UDP and TCP":                              {"delegate", "kube-dns", 53, tcp, true},
		"a party cannot send DNS elsewhere":                                                  {"delegate", "internet", 53, udp, false},
		"a party cannot reach the API server":                                                {"persistent", "api-server", 443, tcp, false},
		"a party cannot reach the internet":                                                  {"persistent", "internet", 443, tcp, false},
		"a party cannot reach the webhook":                                                   {"persistent", "webhook", 9443, tcp, false},
		"the coordinator reaches a party of the second discovery namespace":                  {"coordinator", "remote-party", party, tcp, true},
		"a party of the second discovery namespace reaches the coordinator":                  {"remote-party", "coordinator", grpc, tcp, true},
		"a party of the second discovery namespace reaches a party of the release":           {"remote-party", "persistent", party, tcp, true},
		"a party of the release reaches a party of the second discovery namespace":           {"persistent", "remote-party", party, tcp, true},
		"a pod of the second discovery namespace that is no party cannot reach its parties":  {"remote-stranger", "remote-party", party, tcp, false},
		"a party of the second discovery namespace cannot reach the internet":                {"remote-party", "internet", 443, tcp, false},
		"a party-labelled pod outside the discovery namespaces cannot reach a party":         {"foreign-party", "persistent", party, tcp, false},
		"a party-labelled pod outside the discovery namespaces cannot reach the coordinator": {"foreign-party", "coordinator", grpc, tcp, false},
		"the coordinator cannot reach a party-labelled pod outside the discovery namespaces": {"coordinator", "foreign-party", party, tcp, false},
	}
	check(t, pol, flows)

	t.Run("every flow refused is refused by the policies, not by the evaluator", func(t *testing.T) {
		open := policies{t: t}
		for sentence, f := range flows {
			assert.True(t, open.allowed(pods[f.from], pods[f.to], f.port, f.proto), "without policies: %s", sentence)
		}
	})

	t.Run("the webhook accepts traffic only on its port and its metrics port", func(t *testing.T) {
		hook := webhookDeployment(t, r)
		ports := map[string]int32{}
		for _, cp := range hook.Spec.Template.Spec.Containers[0].Ports {
			ports[cp.Name] = cp.ContainerPort
		}
		for name, port := range ports {
			assert.Equal(t, name == "https" || name == "metrics", pol.allowed(pods["stranger"], pods["webhook"], port, tcp), name)
		}
	})

	t.Run("with the API server's CIDR given", func(t *testing.T) {
		r := mustRender(t, ch, setValues(t, []string{"networkPolicy.apiServer.cidrs[0]=10.0.0.10/32", "networkPolicy.apiServer.ports[0]=6443"}))
		check(t, policies{t: t, list: objectsOf[*networkingv1.NetworkPolicy](r)}, map[string]flow{
			"the coordinator reaches the API server there":                 {"coordinator", "api-server", 6443, tcp, true},
			"the coordinator no longer reaches port 443 there":             {"coordinator", "api-server", 443, tcp, false},
			"the coordinator no longer reaches another address on 6443":    {"coordinator", "internet", 6443, tcp, false},
			"the coordinator still reaches a party":                        {"coordinator", "persistent", party, tcp, true},
			"the coordinator still cannot reach a party outside discovery": {"coordinator", "foreign-party", party, tcp, false},
		})
	})

	t.Run("with clients admitted from another namespace and a database egress", func(t *testing.T) {
		vals := setValues(t, []string{"parties.networkPolicy.extraEgress[0].ports[0].port=5432"})
		vals["networkPolicy"] = map[string]any{"dns": map[string]any{"to": []any{}}}
		vals["coordinator"] = map[string]any{"networkPolicy": map[string]any{"ingressFrom": []any{map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "wallets"}},
		}}}}
		r := mustRender(t, ch, vals)
		check(t, policies{t: t, list: objectsOf[*networkingv1.NetworkPolicy](r)}, map[string]flow{
			"a client of the other namespace reaches the coordinator":       {"client-outside", "coordinator", grpc, tcp, true},
			"a labelled client of the release namespace no longer does":     {"client", "coordinator", grpc, tcp, false},
			"a party reaches its database port":                             {"persistent", "internet", 5432, tcp, true},
			"a party still cannot reach other ports":                        {"persistent", "internet", 443, tcp, false},
			"with no DNS peers, a party resolves names anywhere on port 53": {"persistent", "internet", 53, udp, true},
			"the coordinator gets no database egress":                       {"coordinator", "internet", 5432, tcp, false},
		})
	})

	t.Run("networkPolicy.enabled=false renders none of the chart's own", func(t *testing.T) {
		r := mustRender(t, ch, values("networkPolicy.enabled", false))
		for _, p := range objectsOf[*networkingv1.NetworkPolicy](r) {
			assert.Equal(t, webhook, p.Name, "only the webhook's (mpcguard.networkPolicy) remains")
		}
	})

	t.Run("an egress rule without ports is refused", func(t *testing.T) {
		_, err := render(t, ch, map[string]any{"networkPolicy": map[string]any{"apiServer": map[string]any{"ports": []any{}}}})
		require.ErrorContains(t, err, "mpc-system: networkPolicy.apiServer.ports: must name the API server's ports")
	})
}
