package native

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The configuration both sides enforce.
const (
	ns            = "mpc-system"
	shareSecret   = "mpc-share-db"
	sharePool     = "mpc-party-persistent"
	shareTemplate = "shares"
	threshold     = 2
)

var shareClaimPrefix = shareTemplate + "-" + sharePool + "-"

// request is one admission request of the corpus: sent with dryRun=All, so nothing persists.
type request struct {
	// name says what the request is; it is unique.
	name   string
	method string // POST (CREATE) or PUT (UPDATE)
	path   string
	body   []byte
	// mutate, for a PUT, makes the body from the object at path as the API server stores it (with its
	// resourceVersion and defaults), right before the first phase.
	mutate func(obj map[string]any)
	// session marks the MPCSession requests (the mutation test sends only those).
	session bool
	// as is who sends the request (nil: the administrator).
	as *identity
}

// corpus is the requests and the objects that must exist before them (the old objects of the UPDATEs, created
// with no admission installed, as legacy objects would be).
type corpus struct {
	setup    []request
	requests []request
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// roles are the role label variants: absent ("-"), valid, wrong case, empty, spaces (an invalid label value the
// API server refuses before admission), unknown.
var roles = []string{"-", "persistent", "delegate", "temporary", "Persistent", "DELEGATE", "", " persistent", "delegate ", "admin", "persistent-1"}

// selectors are the party selector variants: matching, another component, absent.
var selectors = []string{"match", "other", "none"}

func labelsFor(sel, role string) map[string]string {
	l := map[string]string{"app": "mpc"}
	switch sel {
	case "match":
		l["app.kubernetes.io/component"] = "mpc-party"
	case "other":
		l["app.kubernetes.io/component"] = "coordinator"
	}
	if role != "-" {
		l["party-role"] = role
	}
	return l
}

// storages are the ways a pod spec can reach (or not reach) share storage.
var storages = []string{"none", "secret-volume", "secret-env", "secret-envfrom", "projected", "csi-ref", "init-env",
	"share-claim", "claim-not-ordinal", "other-claim", "hostpath", "other-secret"}

func podSpec(storage string) corev1.PodSpec {
	c := corev1.Container{Name: "party", Image: "mpc/party:1.0"}
	spec := corev1.PodSpec{}
	vol := func(src corev1.VolumeSource) {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "v", VolumeSource: src})
	}
	switch storage {
	case "secret-volume":
		vol(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: shareSecret}})
	case "secret-env":
		c.Env = []corev1.EnvVar{{Name: "DB", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: shareSecret}, Key: "url"}}}}
	case "secret-envfrom":
		c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: shareSecret}}}}
	case "projected":
		vol(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: shareSecret}}}}}})
	case "csi-ref":
		vol(corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io",
			NodePublishSecretRef: &corev1.LocalObjectReference{Name: shareSecret}}})
	case "init-env":
		spec.InitContainers = []corev1.Container{{Name: "init", Image: "mpc/party:1.0", EnvFrom: []corev1.EnvFromSource{
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: shareSecret}}}}}}
	case "share-claim":
		vol(corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: shareClaimPrefix + "0"}})
	case "claim-not-ordinal":
		vol(corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: shareClaimPrefix + "x0"}})
	case "other-claim":
		vol(corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-0"}})
	case "hostpath":
		vol(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/mpc"}})
	case "other-secret":
		vol(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}})
	}
	spec.Containers = []corev1.Container{c}
	return spec
}

func podPath(name string) string { return "/api/v1/namespaces/" + ns + "/pods" + name }

func pod(name string, labels map[string]string, storage string) *corev1.Pod {
	return &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Spec: podSpec(storage)}
}

func token(s string) string {
	switch s {
	case "-":
		return "absent"
	case "":
		return "empty"
	}
	return strings.ReplaceAll(fmt.Sprintf("%q", s), " ", "_")
}

// podRequests: every selector, role and storage on CREATE; UPDATEs of legacy pods that change, add or remove
// the role label or the party selector.
func podRequests(c *corpus) {
	i := 0
	for _, sel := range selectors {
		for _, role := range roles {
			for _, st := range storages {
				i++
				name := fmt.Sprintf("p%d", i)
				c.requests = append(c.requests, request{
					name:   fmt.Sprintf("CREATE Pod selector=%s role=%s storage=%s", sel, token(role), st),
					method: "POST", path: podPath(""), body: mustJSON(pod(name, labelsFor(sel, role), st))})
			}
		}
	}
	validRoles := []string{"-", "persistent", "delegate", "temporary", "Persistent", "admin"}
	for _, oldSel := range []string{"match", "none"} {
		for _, oldRole := range validRoles {
			for _, st := range []string{"none", "secret-volume", "hostpath"} {
				i++
				name := fmt.Sprintf("u%d", i)
				old := pod(name, labelsFor(oldSel, oldRole), st)
				c.setup = append(c.setup, request{name: "legacy " + name, method: "POST", path: podPath(""), body: mustJSON(old)})
				for _, newSel := range []string{"match", "none"} {
					for _, newRole := range validRoles {
						labels := labelsFor(newSel, newRole)
						labels["touched"] = "yes"
						c.requests = append(c.requests, request{
							name: fmt.Sprintf("UPDATE Pod storage=%s selector %s->%s role %s->%s", st, oldSel, newSel,
								token(oldRole), token(newRole)),
							method: "PUT", path: podPath("/" + name), mutate: setLabels(labels)})
					}
				}
			}
		}
	}
}

// workload returns a workload of kind with the pod template; a StatefulSet has a share volumeClaimTemplate
// when vct is set.
func workload(kind, name string, labels map[string]string, spec corev1.PodSpec, vct bool, replicas int32) (string, any) {
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mpc"}}
	meta := metav1.ObjectMeta{Name: name, Namespace: ns}
	apps := "/apis/apps/v1/namespaces/" + ns + "/"
	batch := "/apis/batch/v1/namespaces/" + ns + "/"
	switch kind {
	case "Deployment":
		return apps + "deployments", &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}, ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}}
	case "StatefulSet":
		s := &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}, ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl, Replicas: ptr.To(replicas)}}
		if vct {
			s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: shareTemplate},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}}}
		}
		return apps + "statefulsets", s
	case "ReplicaSet":
		return apps + "replicasets", &appsv1.ReplicaSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}, ObjectMeta: meta,
			Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: tmpl}}
	case "DaemonSet":
		return apps + "daemonsets", &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}, ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
	case "Job":
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		return batch + "jobs", &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: kind}, ObjectMeta: meta,
			Spec: batchv1.JobSpec{Template: tmpl}}
	case "CronJob":
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		return batch + "cronjobs", &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: kind}, ObjectMeta: meta,
			Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}
	}
	panic("unknown kind " + kind)
}

var workloadKinds = []string{"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"}

// workloadRequests: each kind with every selector, a sample of roles and storages; StatefulSets named as the
// share pool with a share volumeClaimTemplate; UPDATEs of persistent StatefulSets' replicas and scale around t.
func workloadRequests(c *corpus, rng *rand.Rand) {
	i := 0
	for _, kind := range workloadKinds {
		for _, sel := range selectors {
			for _, role := range []string{"-", "persistent", "delegate", "temporary", "Persistent", "", "admin"} {
				for _, st := range storages {
					if rng.IntN(3) == 0 && st != "none" && st != "share-claim" {
						continue // a third of the storage variants, at random but reproducibly
					}
					i++
					path, obj := workload(kind, fmt.Sprintf("w%d", i), labelsFor(sel, role), podSpec(st), false, 1)
					c.requests = append(c.requests, request{
						name:   fmt.Sprintf("CREATE %s selector=%s role=%s storage=%s", kind, sel, token(role), st),
						method: "POST", path: path, body: mustJSON(obj)})
				}
			}
			// A StatefulSet whose volumeClaimTemplate's first claim is a share claim only when it is the pool.
			for _, role := range []string{"persistent", "delegate", "temporary"} {
				for _, name := range []string{sharePool, sharePool + "-2"} {
					if kind != "StatefulSet" {
						continue
					}
					path, obj := workload(kind, name, labelsFor(sel, role), podSpec("none"), true, 3)
					c.requests = append(c.requests, request{
						name:   fmt.Sprintf("CREATE StatefulSet %s with volumeClaimTemplate %s selector=%s role=%s", name, shareTemplate, sel, token(role)),
						method: "POST", path: path, body: mustJSON(obj)})
				}
			}
		}
	}
	// persistent-quorum: the pool (by name) and another StatefulSet, from each size, to each size.
	for _, name := range []string{sharePool, "mpc-other"} {
		for _, from := range []int32{0, 1, 2, 3} {
			sts := fmt.Sprintf("%s-from-%d", name, from)
			if name == sharePool && from == 3 {
				sts = sharePool
			}
			path, obj := workload("StatefulSet", sts, labelsFor("match", "persistent"), podSpec("none"), false, from)
			c.setup = append(c.setup, request{name: "existing " + sts, method: "POST", path: path, body: mustJSON(obj)})
			for _, to := range []int32{0, 1, 2, 3, 4} {
				c.requests = append(c.requests, request{
					name:   fmt.Sprintf("UPDATE StatefulSet %s replicas %d->%d", sts, from, to),
					method: "PUT", path: path + "/" + sts, mutate: setReplicas(to)})
				c.requests = append(c.requests, request{
					name:   fmt.Sprintf("UPDATE StatefulSet %s/scale replicas %d->%d", sts, from, to),
					method: "PUT", path: path + "/" + sts + "/scale", mutate: setReplicas(to)})
			}
		}
	}
}

const sessionsPath = "/apis/mpc.mpcguard.io/v1alpha1/namespaces/" + ns + "/mpcsessions"

// session is an MPCSession as JSON-ready maps, so that absent, null and empty compositions can be told apart.
func session(name, typ string, t, n int64, comp any) map[string]any {
	spec := map[string]any{"type": typ, "threshold": map[string]any{"t": t, "n": n}}
	if comp != "absent" {
		spec["composition"] = comp
	}
	return map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
		"metadata": map[string]any{"name": name, "namespace": ns}, "spec": spec}
}

func compText(comp any) string {
	if s, ok := comp.(string); ok {
		return s
	}
	b, _ := json.Marshal(comp)
	return string(b)
}

// sessionRequests: t and n around each other, compositions absent, null, empty and of every small count
// (among them delegate + temporary = t and t-1), a few out-of-range numbers; UPDATEs that change the spec or
// only a label.
func sessionRequests(c *corpus, rng *rand.Rand) {
	comps := []any{"absent", nil, map[string]any{}, map[string]any{"persistent": 0}, map[string]any{"delegate": 0, "temporary": 0}}
	for p := int64(0); p <= 3; p++ {
		for d := int64(0); d <= 3; d++ {
			for tmp := int64(0); tmp <= 2; tmp++ {
				comps = append(comps, map[string]any{"persistent": p, "delegate": d, "temporary": tmp})
			}
		}
	}
	comps = append(comps, map[string]any{"delegate": 2}, map[string]any{"persistent": 3}, map[string]any{"temporary": 1, "persistent": 1})
	i := 0
	for t := int64(0); t <= 4; t++ {
		for n := int64(0); n <= 4; n++ {
			for _, comp := range comps {
				// All of the boundary cases, a third of the rest.
				if _, isMap := comp.(map[string]any); isMap && len(comp.(map[string]any)) == 3 && rng.IntN(3) != 0 {
					m := comp.(map[string]any)
					if m["delegate"].(int64)+m["temporary"].(int64) != t && m["delegate"].(int64)+m["temporary"].(int64) != t-1 {
						continue
					}
				}
				i++
				c.requests = append(c.requests, request{session: true,
					name:   fmt.Sprintf("CREATE MPCSession t=%d n=%d composition=%s", t, n, compText(comp)),
					method: "POST", path: sessionsPath, body: mustJSON(session(fmt.Sprintf("s%d", i), "sign", t, n, comp))})
			}
		}
	}
	for _, typ := range []string{"keygen", "reshare", "Sign", "verify"} {
		i++
		c.requests = append(c.requests, request{session: true, name: "CREATE MPCSession type=" + typ,
			method: "POST", path: sessionsPath, body: mustJSON(session(fmt.Sprintf("s%d", i), typ, 2, 3, "absent"))})
	}
	for _, big := range []int64{2147483647, 2147483648, -1} {
		i++
		c.requests = append(c.requests, request{session: true, name: fmt.Sprintf("CREATE MPCSession t=2 n=%d", big),
			method: "POST", path: sessionsPath, body: mustJSON(session(fmt.Sprintf("s%d", i), "sign", 2, big, "absent"))})
		i++
		c.requests = append(c.requests, request{session: true, name: fmt.Sprintf("CREATE MPCSession t=2 n=3 delegate=%d", big),
			method: "POST", path: sessionsPath, body: mustJSON(session(fmt.Sprintf("s%d", i), "sign", 2, 3, map[string]any{"persistent": 3, "delegate": big}))})
	}
	// UPDATEs of legacy sessions (some of them invalid): a label only, or the spec.
	olds := []map[string]any{
		session("legacy-ok", "sign", 2, 3, "absent"),
		session("legacy-empty", "sign", 2, 3, map[string]any{}),
		session("legacy-delegates", "sign", 2, 3, map[string]any{"persistent": 1, "delegate": 2}),
		session("legacy-sum", "sign", 2, 3, map[string]any{"persistent": 1}),
	}
	for _, old := range olds {
		name := old["metadata"].(map[string]any)["name"].(string)
		c.setup = append(c.setup, request{name: "legacy " + name, method: "POST", path: sessionsPath, body: mustJSON(old)})
		c.requests = append(c.requests, request{session: true, name: "UPDATE MPCSession " + name + " label only",
			method: "PUT", path: sessionsPath + "/" + name, mutate: setLabels(map[string]string{"touched": "yes"})})
		for _, comp := range []any{"absent", map[string]any{}, map[string]any{"persistent": 2, "delegate": 1}, map[string]any{"persistent": 1, "delegate": 2},
			map[string]any{"persistent": 3, "delegate": 0}} {
			spec := session(name, "sign", 2, 3, comp)["spec"]
			c.requests = append(c.requests, request{session: true,
				name:   "UPDATE MPCSession " + name + " composition=" + compText(comp),
				method: "PUT", path: sessionsPath + "/" + name, mutate: func(obj map[string]any) { obj["spec"] = spec }})
		}
	}
}

func setLabels(labels map[string]string) func(map[string]any) {
	return func(obj map[string]any) { obj["metadata"].(map[string]any)["labels"] = labels }
}

func setReplicas(n int32) func(map[string]any) {
	return func(obj map[string]any) { obj["spec"].(map[string]any)["replicas"] = n }
}

// newCorpus generates the corpus; the same seed gives the same requests. node is the node the Bindings name.
func newCorpus(seed uint64, node string) corpus {
	rng := rand.New(rand.NewPCG(seed, seed))
	var c corpus
	podRequests(&c)
	workloadRequests(&c, rng)
	sessionRequests(&c, rng)
	originRequests(&c)
	bindingRequests(&c, node)
	copyRequests(&c)
	return c
}
