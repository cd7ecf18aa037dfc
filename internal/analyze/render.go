package analyze

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// The topology keys analyze understands.
const (
	HostnameKey = corev1.LabelHostname
	ZoneKey     = corev1.LabelTopologyZone
	RegionKey   = corev1.LabelTopologyRegion
)

// Sentinel errors, wrapped with the object and place they concern.
var (
	// ErrInput is a manifest that analyze cannot read as the kind it names.
	ErrInput = errors.New("cannot read object")
	// ErrNoThreshold is an analysis with no t: neither --threshold nor an mpcguard webhook with --threshold-t.
	ErrNoThreshold = errors.New("no threshold t")
	// ErrThresholdConflict is several renders whose webhooks name different thresholds.
	ErrThresholdConflict = errors.New("the renders name different thresholds")
)

// Config says which pods are parties and which label carries their role: the webhook's --party-selector
// and --role-label-key.
type Config struct {
	RoleLabelKey  string
	PartySelector string
}

// DefaultConfig is the vocabulary's default.
func DefaultConfig() Config {
	return Config{RoleLabelKey: vocab.DefaultRoleLabelKey, PartySelector: vocab.DefaultPartySelector}
}

// Spacing is how a pool's pods are kept apart in one topology (nodes, or zones).
type Spacing struct {
	// AntiAffinity is "required", "preferred" or "none": pod anti-affinity among the pool's own pods.
	AntiAffinity string `json:"antiAffinity"`
	// MaxSkew is the maxSkew of a DoNotSchedule topology spread constraint over the pool's pods; 0 when
	// there is none (ScheduleAnyway does not bound anything).
	MaxSkew int `json:"maxSkew,omitempty"`
}

// Anti-affinity modes.
const (
	Required  = "required"
	Preferred = "preferred"
	None      = "none"
)

// Pool is a workload whose pod template is a party: a StatefulSet or a Deployment.
type Pool struct {
	Where     string `json:"where"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	// Replicas is spec.replicas, or the maxReplicas of a HorizontalPodAutoscaler that scales the workload
	// (ScaledBy names it): the most parties the pool can run.
	Replicas int               `json:"replicas"`
	ScaledBy string            `json:"scaledBy,omitempty"`
	Labels   map[string]string `json:"-"` // the pod template's
	Node     Spacing           `json:"node"`
	Zone     Spacing           `json:"zone"`
}

// PDB is a PodDisruptionBudget.
type PDB struct {
	Where                      string
	Namespace, Name            string
	Selector                   labels.Selector
	MinAvailable               *intstr.IntOrString
	MaxUnavailable             *intstr.IntOrString
	UnhealthyPodEvictionPolicy string
}

// Render is what analyze reads from one rendered chart (one operator's manifests).
type Render struct {
	Pools []Pool
	PDBs  []PDB
	// Threshold is the webhook's --threshold-t (0: none), ThresholdWhere the webhook that says so.
	Threshold      int
	ThresholdWhere string
	// Notes are objects that were read but not modelled (a DaemonSet party pool, a pool with no valid role).
	Notes []string
	// Config is the party vocabulary the render was read with: a live cluster's party pods are listed with it.
	Config Config
}

// WebhookThreshold reads --threshold-t from the arguments of an mpcguard webhook ("--threshold-t=2" or
// "--threshold-t 2"); 0 when absent.
func WebhookThreshold(args []string) (int, error) {
	v, ok := flagArg(args, "threshold-t")
	if !ok {
		return 0, nil
	}
	t, err := strconv.Atoi(v)
	if err != nil || t < 0 {
		return 0, fmt.Errorf("--threshold-t=%s: want a whole number >= 0", v)
	}
	return t, nil
}

// WebhookConfig reads --role-label-key and --party-selector from the arguments of an mpcguard webhook,
// keeping def's value for each flag that is absent.
func WebhookConfig(args []string, def Config) Config {
	if v, ok := flagArg(args, "role-label-key"); ok && v != "" {
		def.RoleLabelKey = v
	}
	if v, ok := flagArg(args, "party-selector"); ok && v != "" {
		def.PartySelector = v
	}
	return def
}

func flagArg(args []string, name string) (string, bool) {
	val, found := "", false
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--"+name+"="):
			val, found = strings.TrimPrefix(a, "--"+name+"="), true
		case a == "--"+name && i+1 < len(args):
			val, found = args[i+1], true
		}
	}
	return val, found
}

// ReadRender reads the party pools, PodDisruptionBudgets and HorizontalPodAutoscalers of one render. Every
// object that names a kind analyze models but cannot be read as it is an error naming its place.
func ReadRender(objs []validate.Decoded, cfg Config) (Render, error) {
	sel, err := labels.Parse(cfg.PartySelector)
	if err != nil {
		return Render{}, fmt.Errorf("party selector %q: %w", cfg.PartySelector, err)
	}
	r := Render{Config: cfg}
	var errs []error
	maxReplicas := map[string]struct {
		n     int
		where string
	}{}
	for _, d := range objs {
		var h metav1.TypeMeta
		if json.Unmarshal(d.Raw, &h) != nil {
			continue
		}
		fail := func(err error) { errs = append(errs, fmt.Errorf("%s: %s: %w: %w", d.Where(), h.Kind, ErrInput, err)) }
		switch {
		case h.Kind == "StatefulSet" && strings.HasPrefix(h.APIVersion, "apps/"):
			var s appsv1.StatefulSet
			if err := json.Unmarshal(d.Raw, &s); err != nil {
				fail(err)
				continue
			}
			r.addPool(d.Where(), "StatefulSet", s.ObjectMeta, s.Spec.Replicas, s.Spec.Template, sel, cfg)
		case h.Kind == "Deployment" && strings.HasPrefix(h.APIVersion, "apps/"):
			var s appsv1.Deployment
			if err := json.Unmarshal(d.Raw, &s); err != nil {
				fail(err)
				continue
			}
			r.addPool(d.Where(), "Deployment", s.ObjectMeta, s.Spec.Replicas, s.Spec.Template, sel, cfg)
		case (h.Kind == "DaemonSet" || h.Kind == "ReplicaSet") && strings.HasPrefix(h.APIVersion, "apps/"):
			var s struct {
				metav1.ObjectMeta `json:"metadata"`
				Spec              struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(d.Raw, &s); err != nil {
				fail(err)
				continue
			}
			if sel.Matches(labels.Set(s.Spec.Template.Labels)) {
				r.Notes = append(r.Notes, fmt.Sprintf("%s: %s %s/%s runs parties but is not analyzed (only StatefulSets and Deployments are)", d.Where(), h.Kind, s.Namespace, s.Name))
			}
		case h.Kind == "PodDisruptionBudget" && strings.HasPrefix(h.APIVersion, "policy/"):
			var p policyv1.PodDisruptionBudget
			if err := json.Unmarshal(d.Raw, &p); err != nil {
				fail(err)
				continue
			}
			ps, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil {
				fail(fmt.Errorf("spec.selector: %w", err))
				continue
			}
			if p.Spec.Selector == nil {
				ps = labels.Nothing()
			}
			pdb := PDB{Where: d.Where(), Namespace: p.Namespace, Name: p.Name, Selector: ps,
				MinAvailable: p.Spec.MinAvailable, MaxUnavailable: p.Spec.MaxUnavailable}
			if p.Spec.UnhealthyPodEvictionPolicy != nil {
				pdb.UnhealthyPodEvictionPolicy = string(*p.Spec.UnhealthyPodEvictionPolicy)
			}
			r.PDBs = append(r.PDBs, pdb)
		case h.Kind == "HorizontalPodAutoscaler" && strings.HasPrefix(h.APIVersion, "autoscaling/"):
			var a autoscalingv2.HorizontalPodAutoscaler
			if err := json.Unmarshal(d.Raw, &a); err != nil {
				fail(err)
				continue
			}
			key := a.Namespace + "/" + a.Spec.ScaleTargetRef.Kind + "/" + a.Spec.ScaleTargetRef.Name
			maxReplicas[key] = struct {
				n     int
				where string
			}{int(a.Spec.MaxReplicas), fmt.Sprintf("HorizontalPodAutoscaler %s/%s", a.Namespace, a.Name)}
		}
	}
	for i, p := range r.Pools {
		if m, ok := maxReplicas[p.Namespace+"/"+p.Kind+"/"+p.Name]; ok && m.n > p.Replicas {
			r.Pools[i].Replicas, r.Pools[i].ScaledBy = m.n, m.where
		}
	}
	return r, errors.Join(errs...)
}

// addPool adds a workload whose pod template matches the party selector.
func (r *Render) addPool(where, kind string, meta metav1.ObjectMeta, replicas *int32, tpl corev1.PodTemplateSpec, sel labels.Selector, cfg Config) {
	if !sel.Matches(labels.Set(tpl.Labels)) {
		return
	}
	role := tpl.Labels[cfg.RoleLabelKey]
	switch role {
	case vocab.RolePersistent, vocab.RoleDelegate, vocab.RoleTemporary:
	default:
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %s %s/%s runs parties with role %q (label %s), not one of %s: not analyzed (mpcguard validate rejects it)",
			where, kind, meta.Namespace, meta.Name, role, cfg.RoleLabelKey, strings.Join(vocab.Roles, ", ")))
		return
	}
	n := 1
	if replicas != nil {
		n = int(*replicas)
	}
	p := Pool{Where: where, Kind: kind, Namespace: meta.Namespace, Name: meta.Name, Role: role, Replicas: n, Labels: tpl.Labels}
	p.Node = spacing(tpl, HostnameKey)
	p.Zone = spacing(tpl, ZoneKey)
	r.Pools = append(r.Pools, p)
}

// spacing reads how the template keeps its own pods apart over topologyKey.
func spacing(tpl corev1.PodTemplateSpec, topologyKey string) Spacing {
	own := labels.Set(tpl.Labels)
	matches := func(ls *metav1.LabelSelector) bool {
		s, err := metav1.LabelSelectorAsSelector(ls)
		return err == nil && ls != nil && s.Matches(own)
	}
	sp := Spacing{AntiAffinity: None}
	if a := tpl.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, term := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if term.PodAffinityTerm.TopologyKey == topologyKey && matches(term.PodAffinityTerm.LabelSelector) {
				sp.AntiAffinity = Preferred
			}
		}
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if term.TopologyKey == topologyKey && matches(term.LabelSelector) {
				sp.AntiAffinity = Required
			}
		}
	}
	for _, c := range tpl.Spec.TopologySpreadConstraints {
		if c.TopologyKey == topologyKey && c.WhenUnsatisfiable == corev1.DoNotSchedule && c.MaxSkew > 0 && matches(c.LabelSelector) {
			if sp.MaxSkew == 0 || int(c.MaxSkew) < sp.MaxSkew {
				sp.MaxSkew = int(c.MaxSkew)
			}
		}
	}
	return sp
}

// Node is a node that parties can be scheduled on.
type Node struct {
	Name          string `json:"name"`
	Zone          string `json:"zone,omitempty"`
	Region        string `json:"region,omitempty"`
	Unschedulable bool   `json:"unschedulable,omitempty"`
}

// ReadNodes reads the Node objects of decoded input (Node documents, a NodeList as `kubectl get nodes -o
// yaml` writes it, or a List of Nodes); any other kind is an error naming its place.
func ReadNodes(objs []validate.Decoded) ([]Node, error) {
	var out []Node
	var errs []error
	for _, d := range objs {
		var n corev1.Node
		if err := json.Unmarshal(d.Raw, &n); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w: %w", d.Where(), ErrInput, err))
			continue
		}
		if n.Kind != "Node" {
			errs = append(errs, fmt.Errorf("%s: %w: a %s, want Nodes (a NodeList, as kubectl get nodes -o yaml writes it)", d.Where(), ErrInput, n.Kind))
			continue
		}
		out = append(out, NodeOf(&n))
	}
	return out, errors.Join(errs...)
}

// NodeOf is the part of a Node that placement depends on.
func NodeOf(n *corev1.Node) Node {
	return Node{Name: n.Name, Zone: n.Labels[ZoneKey], Region: n.Labels[RegionKey], Unschedulable: n.Spec.Unschedulable}
}

// Placed is a persistent party pod of a live cluster and the node it runs on ("" while Pending).
type Placed struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Node      string `json:"node"`
}
