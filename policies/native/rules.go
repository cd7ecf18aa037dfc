package native

import (
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// literals are the configured values as CEL literal text: JSON strings, lists and maps of strings, and
// integers, are CEL literals as they are. Policies fills them with the values of a Config; PoliciesWithLiterals
// with the text it is given (the generator's Helm expressions that render to such literals).
type literals struct {
	roleKey       string // string: the role label key
	selector      string // map of strings: the party selector
	selectorText  string // string: the party selector as k=v,k=v, keys sorted (for messages)
	secretNames   string // list of strings: the share Secrets
	claimPrefixes string // list of strings: the share claim prefixes
	workloads     string // list of strings: the persistent StatefulSets (empty: any)
	threshold     string // int: the t of persistent-quorum (0: no check)
	workloadsText string // string: the persistent StatefulSets for messages ("a StatefulSet" when none)
	partyKeys     string // list of strings, sorted: the party selector's keys and the role label key
	// controllerUsers (list) and controllerUsersText (string, for messages) are the identities that create
	// persistent party pods.
	controllerUsers, controllerUsersText string
	// breakGlassGroups (list) and breakGlassText (string) are the groups that may copy share storage.
	breakGlassGroups, breakGlassText string
}

// rule is one native policy before it is named and bound: what it matches and its CEL.
type rule struct {
	id              string
	resources       []string // resources (with subresources) of vocab.Routes it matches
	operations      []string // the operations of those routes it reviews
	matchConditions []admissionregistrationv1.MatchCondition
	variables       []admissionregistrationv1.Variable
	validations     []admissionregistrationv1.Validation
}

// rolesList is vocab.Roles as a CEL list; nonPersistentList the roles other than persistent.
func rolesList() string { return quoteList(vocab.Roles) }

func nonPersistentList() string {
	return quoteList(slices.DeleteFunc(slices.Clone(vocab.Roles), func(r string) bool { return r == vocab.RolePersistent }))
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = celString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// rolesText is how the Rego messages list the roles (lib.roles_text).
func rolesText() string { return strings.Join(vocab.Roles, ", ") }

func v(name string) string { return "variables." + name }

func variable(name, expr string) admissionregistrationv1.Variable {
	return admissionregistrationv1.Variable{Name: name, Expression: expr}
}

// check is one validation: expr must hold; message is the text after "[id] object: " (a CEL string
// expression). The static message, used when the message expression fails, still names the policy.
func check(id, expr, message string) admissionregistrationv1.Validation {
	return admissionregistrationv1.Validation{
		Expression:        expr,
		Message:           "[" + id + "] violated (the message expression failed)",
		MessageExpression: celString("["+id+"] ") + " + " + v("objectText") + ` + ": " + (` + message + ")",
		Reason:            ptrReason(),
	}
}

func ptrReason() *metav1.StatusReason { r := metav1.StatusReasonForbidden; return &r }

// commonVariables name the object as the engine's messages do: "Kind namespace/name", "Pod namespace/name
// (status)" for a pod subresource, "StatefulSet namespace/name (scale)" for a Scale.
func commonVariables() []admissionregistrationv1.Variable {
	return []admissionregistrationv1.Variable{
		variable("subresource", `has(request.subResource) ? request.subResource : ""`),
		variable("name", `has(object.metadata.name) && object.metadata.name != "" ? object.metadata.name : request.name`),
		variable("objectText", `(request.kind.kind == "Scale" ? "StatefulSet " + request.namespace + "/" + variables.name + " (scale)" : `+
			`variables.subresource != "" ? "Pod " + request.namespace + "/" + variables.name + " (" + variables.subresource + ")" : `+
			`request.kind.kind + " " + request.namespace + "/" + variables.name)`),
	}
}

// selectorMatch is true when the labels (a CEL map) carry every label of the party selector; an empty selector
// matches nothing (lib.matches_selector).
func selectorMatch(l literals, labels string) string {
	return "size(" + l.selector + ") > 0 && " + l.selector + ".all(k, k in " + labels + " && " + labels + "[k] == " + l.selector + "[k])"
}

// labelVariables are the pod's labels and the old pod's, and what the pod rules derive from them
// (pod.rego: party_pod, old_party_pod, role_unchanged, party_unchanged).
func labelVariables(l literals) []admissionregistrationv1.Variable {
	k := l.roleKey
	return []admissionregistrationv1.Variable{
		variable("update", `request.operation == "UPDATE"`),
		variable("labels", `has(object.metadata.labels) ? object.metadata.labels : {}`),
		variable("oldLabels", `variables.update && oldObject != null && has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}`),
		variable("party", selectorMatch(l, v("labels"))),
		variable("oldParty", v("update")+" && "+selectorMatch(l, v("oldLabels"))),
		variable("roleUnchanged", v("update")+" && ("+k+" in variables.oldLabels) == ("+k+" in variables.labels) && "+
			"(!("+k+" in variables.labels) || variables.oldLabels["+k+"] == variables.labels["+k+"])"),
		variable("partyUnchanged", v("oldParty")+" && "+v("roleUnchanged")),
	}
}

// statusMatchCondition skips pods/status updates that leave the labels alone, as the webhook configuration
// does: none of the pod policies can find anything there (the status strategy keeps the spec), and the
// kubelet's status updates are the API server's most frequent pod writes.
func statusMatchCondition() admissionregistrationv1.MatchCondition {
	return admissionregistrationv1.MatchCondition{
		Name: "status-updates-that-change-labels",
		Expression: `!has(request.subResource) || request.subResource != "status" || ` +
			`(has(object.metadata.labels) ? object.metadata.labels : {}) != (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})`,
	}
}

var podResources = []string{"pods", "pods/status", "pods/ephemeralcontainers"}

// workloadResources are the resources of the kinds whose pod template the policies check.
var workloadResources = []string{"deployments", "statefulsets", "replicasets", "daemonsets", "jobs", "cronjobs"}

var createUpdate = []string{"CREATE", "UPDATE"}

func partyRoleRequired(l literals) rule {
	k := l.roleKey
	return rule{
		id: vocab.PartyRoleRequired, resources: podResources, operations: createUpdate,
		matchConditions: []admissionregistrationv1.MatchCondition{statusMatchCondition()},
		variables:       append(commonVariables(), labelVariables(l)...),
		validations: []admissionregistrationv1.Validation{check(vocab.PartyRoleRequired,
			"!variables.party || "+k+" in variables.labels || variables.partyUnchanged",
			`"party pod (" + `+l.selectorText+` + ") has no " + `+k+` + " label; add " + `+k+` + " with one of `+rolesText()+`"`)},
	}
}

func partyRoleValid(l literals) rule {
	k := l.roleKey
	return rule{
		id: vocab.PartyRoleValid, resources: podResources, operations: createUpdate,
		matchConditions: []admissionregistrationv1.MatchCondition{statusMatchCondition()},
		variables:       append(commonVariables(), labelVariables(l)...),
		validations: []admissionregistrationv1.Validation{check(vocab.PartyRoleValid,
			"!variables.party || !("+k+" in variables.labels) || variables.labels["+k+"] in "+rolesList()+" || variables.partyUnchanged",
			k+` + "=\"" + variables.labels[`+k+`] + "\" is not a valid role; set " + `+k+` + " to one of `+rolesText()+` (exact, lower case)"`)},
	}
}

func partyRoleImmutable(l literals) rule {
	k := l.roleKey
	vars := append(commonVariables(), labelVariables(l)...)
	vars = append(vars,
		variable("hadRole", v("update")+" && "+k+" in variables.oldLabels"),
		// lib.non_persistent_role after an invalid legacy role: the one change of a role that is allowed.
		variable("legacyFix", "variables.hadRole && "+k+" in variables.labels && !(variables.oldLabels["+k+"] in "+rolesList()+") && "+
			"variables.labels["+k+"] in "+nonPersistentList()),
	)
	return rule{
		id: vocab.PartyRoleImmutable, resources: podResources, operations: []string{"UPDATE"},
		matchConditions: []admissionregistrationv1.MatchCondition{statusMatchCondition()},
		variables:       vars,
		validations: []admissionregistrationv1.Validation{check(vocab.PartyRoleImmutable,
			"!variables.hadRole || ("+k+" in variables.labels && (variables.labels["+k+"] == variables.oldLabels["+k+"] || variables.legacyFix))",
			k+" in variables.labels ? "+
				k+` + " cannot change from \"" + variables.oldLabels[`+k+`] + "\" to \"" + variables.labels[`+k+`] + "\"; delete the pod and create it with the role it should have" : `+
				k+` + " \"" + variables.oldLabels[`+k+`] + "\" cannot be removed; delete the pod and create it with the role it should have"`)},
	}
}

// templateVariables read the pod template of a workload (spec.template, a CronJob's
// spec.jobTemplate.spec.template) and its labels.
func templateVariables() []admissionregistrationv1.Variable {
	return []admissionregistrationv1.Variable{
		variable("template", `has(object.spec.jobTemplate) ? object.spec.jobTemplate.spec.template : object.spec.template`),
		variable("labels", `has(variables.template.metadata) && has(variables.template.metadata.labels) ? variables.template.metadata.labels : {}`),
	}
}

func workloadPartyRole(l literals) rule {
	k := l.roleKey
	vars := append(commonVariables(), templateVariables()...)
	vars = append(vars, variable("party", selectorMatch(l, v("labels"))))
	return rule{
		id: vocab.WorkloadPartyRole, resources: workloadResources, operations: createUpdate,
		variables: vars,
		validations: []admissionregistrationv1.Validation{check(vocab.WorkloadPartyRole,
			"!variables.party || ("+k+" in variables.labels && variables.labels["+k+"] in "+rolesList()+")",
			k+" in variables.labels ? "+
				`"pod template has " + `+k+` + "=\"" + variables.labels[`+k+`] + "\", not one of `+rolesText()+`; set it to one of them in the pod template labels" : `+
				`"pod template matches the party selector (" + `+l.selectorText+` + ") but has no " + `+k+` + " label; add " + `+k+` + " (one of `+rolesText()+`) to the pod template labels"`)},
	}
}

// volumeSecretRefs are the volume types whose driver reads a Secret (engine: volumeSecretRefs), as
// {volume field, reference object}; the reference's name is in its field name.
var volumeSecretRefs = [][2]string{
	{"csi", "nodePublishSecretRef"},
	{"cephfs", "secretRef"},
	{"rbd", "secretRef"},
	{"iscsi", "secretRef"},
	{"flexVolume", "secretRef"},
	{"scaleIO", "secretRef"},
	{"storageos", "secretRef"},
}

// secretRefs are the share Secrets (l.secretNames) that a pod spec (a CEL expression) reads, as a CEL list of
// names that may repeat: a secret or projected volume, a volume driver's secret reference, or an env or envFrom
// reference of any container (lib.share_access, engine.readPodShape). It walks the spec once, whatever the
// number of share Secrets: walking it once per share Secret took a pod of 2.2 MB past the API server's
// per-expression cost limit (policies/README.md, "CEL cost").
func secretRefs(l literals, spec string) string {
	in := " in " + l.secretNames
	single := []string{"has(v.secret) && has(v.secret.secretName) ? v.secret.secretName"}
	for _, r := range volumeSecretRefs {
		ref := "v." + r[0] + "." + r[1]
		single = append(single, "has(v."+r[0]+") && has("+ref+") && has("+ref+".name) ? "+ref+".name")
	}
	single = append(single, "has(v.azureFile) && has(v.azureFile.secretName) ? v.azureFile.secretName")
	// A volume has one volume source (the API server refuses more), so it names at most one Secret besides a
	// projected volume's sources.
	volumeSecret := "(" + strings.Join(single, " : ") + ` : "")`
	projected := "has(p.secret) && has(p.secret.name) && p.secret.name" + in
	out := []string{"(has(" + spec + ".volumes) ? " + spec + ".volumes.filter(v, " + volumeSecret + in + ").map(v, " + volumeSecret + ") + " +
		spec + ".volumes.filter(v, has(v.projected) && has(v.projected.sources) && v.projected.sources.exists(p, " + projected + ")).map(v, " +
		"v.projected.sources.filter(p, " + projected + ").map(p, p.secret.name)).flatten() : [])"}
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		out = append(out, "(has("+spec+"."+list+") ? "+spec+"."+list+".map(c, "+
			"(has(c.env) ? c.env.filter(e, has(e.valueFrom) && has(e.valueFrom.secretKeyRef) && has(e.valueFrom.secretKeyRef.name) && e.valueFrom.secretKeyRef.name"+in+
			").map(e, e.valueFrom.secretKeyRef.name) : []) + "+
			"(has(c.envFrom) ? c.envFrom.filter(e, has(e.secretRef) && has(e.secretRef.name) && e.secretRef.name"+in+").map(e, e.secretRef.name) : [])).flatten() : [])")
	}
	return strings.Join(out, " + ")
}

// shareAccessExpr is lib.share_access of a pod spec without its hostPath volumes, as a CEL list of strings:
// "PersistentVolumeClaim <name>" for each share claim (claims is a CEL list of claim names), "Secret <name>" for
// each share Secret it reads (secrets is a CEL list of secretRefs).
func shareAccessExpr(l literals, claims, secrets string) string {
	shareClaim := l.claimPrefixes + `.exists(p, p != "" && c.startsWith(p) && c.substring(size(p)).matches("^[0-9]+$"))`
	return "(" + claims + `).filter(c, ` + shareClaim + `).map(c, "PersistentVolumeClaim " + c) + ` +
		l.secretNames + ".filter(s, s in " + secrets + `).map(s, "Secret " + s)`
}

// hostPathsExpr is the rest of lib.share_access: "hostPath <path>" for each hostPath volume of a pod spec.
func hostPathsExpr(spec string) string {
	return "(has(" + spec + ".volumes) ? " + spec + `.volumes.filter(v, has(v.hostPath)).map(v, "hostPath " + v.hostPath.path) : [])`
}

// newer is the CEL list of the strings of list that are not in old. When the two are equal (a pod's volumes
// cannot change by an UPDATE) it is empty without comparing each string with each: that costs
// size(list) * size(old), past the API server's per-expression limit at about 1,000 hostPath volumes.
func newer(list, old string) string {
	return list + " == " + old + " ? [] : " + list + ".filter(x, !(x in " + old + "))"
}

func volumeClaims(spec string) string {
	return "has(" + spec + ".volumes) ? " + spec + ".volumes.filter(v, has(v.persistentVolumeClaim)).map(v, v.persistentVolumeClaim.claimName) : []"
}

// storageVariables are what the two share-storage policies read, of a pod or of a workload's pod template: the
// labels, whether it is a party, and the share storage it newly uses (lib.share_access; for a pod UPDATE that
// changes neither its role nor whether it is a party, only what the old pod did not use, as pod.rego's
// new_share_access). A StatefulSet's volumeClaimTemplates add the claims of its first pod,
// <template>-<statefulset>-0.
func storageVariables(l literals) []admissionregistrationv1.Variable {
	k := l.roleKey
	vars := append(commonVariables(),
		variable("isPod", `request.kind.kind == "Pod"`),
		variable("update", `request.operation == "UPDATE"`),
		variable("template", `variables.isPod ? object : has(object.spec.jobTemplate) ? object.spec.jobTemplate.spec.template : object.spec.template`),
		variable("labels", `has(variables.template.metadata) && has(variables.template.metadata.labels) ? variables.template.metadata.labels : {}`),
		variable("oldLabels", `variables.isPod && variables.update && oldObject != null && has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}`),
		variable("party", selectorMatch(l, v("labels"))),
		variable("oldParty", v("isPod")+" && "+v("update")+" && "+selectorMatch(l, v("oldLabels"))),
		variable("role", k+" in variables.labels ? variables.labels["+k+`] : ""`),
		variable("spec", `has(variables.template.spec) ? variables.template.spec : {}`),
		variable("claims", `(`+volumeClaims("variables.spec")+`) + (!variables.isPod && has(object.spec.volumeClaimTemplates) ? `+
			`object.spec.volumeClaimTemplates.map(t, (has(t.metadata) && has(t.metadata.name) ? t.metadata.name : "") + "-" + variables.name + "-0") : [])`),
		variable("secretRefs", secretRefs(l, "variables.spec")),
		variable("shareAccess", shareAccessExpr(l, "variables.claims", "variables.secretRefs")),
		variable("hostPaths", hostPathsExpr("variables.spec")),
		variable("compareOld", v("isPod")+" && "+v("update")+" && oldObject != null && "+
			"("+k+" in variables.oldLabels) == ("+k+" in variables.labels) && (!("+k+" in variables.labels) || variables.oldLabels["+k+"] == variables.labels["+k+"]) && "+
			"variables.party == variables.oldParty"),
		variable("oldSecretRefs", `variables.compareOld ? `+secretRefs(l, "oldObject.spec")+` : []`),
		variable("oldShareAccess", `variables.compareOld ? `+shareAccessExpr(l, volumeClaims("oldObject.spec"), "variables.oldSecretRefs")+` : []`),
		variable("oldHostPaths", `variables.compareOld ? `+hostPathsExpr("oldObject.spec")+` : []`),
		// newShareAccess and newHostPaths together are pod.rego's new_share_access.
		variable("newShareAccess", newer("variables.shareAccess", "variables.oldShareAccess")),
		variable("newHostPaths", newer("variables.hostPaths", "variables.oldHostPaths")),
	)
	return vars
}

var storageResources = append(slices.Clone(podResources), workloadResources...)

func delegateNoShareStorage(l literals) rule {
	k := l.roleKey
	return rule{
		id: vocab.DelegateNoShareStorage, resources: storageResources, operations: createUpdate,
		matchConditions: []admissionregistrationv1.MatchCondition{statusMatchCondition()},
		variables:       storageVariables(l),
		validations: []admissionregistrationv1.Validation{check(vocab.DelegateNoShareStorage,
			"!variables.party || !(variables.role in "+nonPersistentList()+") || size(variables.newShareAccess) + size(variables.newHostPaths) == 0",
			`(variables.isPod ? variables.role + " party" : "pod template with " + `+k+` + "=" + variables.role) + `+
				`" uses the persistent pool's share storage (" + (variables.newShareAccess + variables.newHostPaths).join(", ") + "); remove those volumes and env references: only persistent parties may hold key shares"`)},
	}
}

func shareStoragePersistentOnly(l literals) rule {
	vars := storageVariables(l)
	return rule{
		id: vocab.ShareStoragePersistentOnly, resources: storageResources, operations: createUpdate,
		matchConditions: []admissionregistrationv1.MatchCondition{statusMatchCondition()},
		variables:       vars,
		validations: []admissionregistrationv1.Validation{check(vocab.ShareStoragePersistentOnly,
			"variables.party || size(variables.newShareAccess) == 0",
			`(variables.isPod ? "pod is not a party pod (" : "pod template is not a party template (") + `+l.selectorText+
				` + ") but uses the persistent pool's share storage (" + variables.newShareAccess.join(", ") + "); only persistent party pods of the persistent pool may hold key shares"`)},
	}
}

// whole is session.rego's count_of: the value when it is a whole number from 0 to 2^31-1, else 0.
func whole(obj, key string) string {
	f := obj + "." + key
	return "has(" + f + ") && " + f + " >= 0 && " + f + " <= 2147483647 ? " + f + " : 0"
}

// sessionVariables are session.rego's t, n and composition: read only when the request creates a session or
// changes its spec (session_request, spec_changed); an absent composition is not an empty one.
func sessionVariables() []admissionregistrationv1.Variable {
	return append(commonVariables(),
		variable("changed", `request.operation == "CREATE" || oldObject == null || !has(oldObject.spec) || object.spec != oldObject.spec`),
		variable("t", `has(object.spec.threshold) ? (`+whole("object.spec.threshold", "t")+`) : 0`),
		variable("n", `has(object.spec.threshold) ? (`+whole("object.spec.threshold", "n")+`) : 0`),
		variable("hasComposition", `has(object.spec.composition)`),
		variable("persistent", `variables.hasComposition ? (`+whole("object.spec.composition", "persistent")+`) : 0`),
		variable("delegate", `variables.hasComposition ? (`+whole("object.spec.composition", "delegate")+`) : 0`),
		variable("temporary", `variables.hasComposition ? (`+whole("object.spec.composition", "temporary")+`) : 0`),
		variable("empty", `variables.hasComposition && variables.persistent == 0 && variables.delegate == 0 && variables.temporary == 0`),
	)
}

// partyNoun is lib.party_noun of a CEL int.
func partyNoun(n string) string { return `(` + n + ` == 1 ? "party" : "parties")` }

func sessionRule(id string, validation admissionregistrationv1.Validation) rule {
	return rule{id: id, resources: []string{vocab.SessionResource}, operations: createUpdate,
		variables: sessionVariables(), validations: []admissionregistrationv1.Validation{validation}}
}

func sessionCompositionNonempty(literals) rule {
	return sessionRule(vocab.SessionCompositionNonempty, check(vocab.SessionCompositionNonempty,
		"!variables.changed || !variables.empty",
		`"composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all " + string(variables.n) + " " + `+
			partyNoun("variables.n")+` + " persistent) or give the counts"`))
}

func sessionDelegateOnlyThreshold(literals) rule {
	return sessionRule(vocab.SessionDelegateOnlyThreshold, check(vocab.SessionDelegateOnlyThreshold,
		"!variables.changed || !variables.hasComposition || variables.t < 1 || variables.delegate + variables.temporary < variables.t",
		`string(variables.delegate) + " delegate + " + string(variables.temporary) + " temporary parties could reach the signing threshold t=" + string(variables.t) + `+
			`" without a persistent party; use at most " + string(variables.t - 1) + " non-persistent " + `+partyNoun("variables.t - 1")+` + " or raise t"`))
}

func sessionCompositionSum(literals) rule {
	return sessionRule(vocab.SessionCompositionSum, check(vocab.SessionCompositionSum,
		"!variables.changed || !variables.hasComposition || variables.empty || variables.persistent + variables.delegate + variables.temporary == variables.n",
		`"composition adds up to " + string(variables.persistent + variables.delegate + variables.temporary) + " (persistent=" + string(variables.persistent) + `+
			`", delegate=" + string(variables.delegate) + ", temporary=" + string(variables.temporary) + "), not n=" + string(variables.n) + "; make the counts add up to n"`))
}

func sessionThresholdRange(literals) rule {
	return sessionRule(vocab.SessionThresholdRange, check(vocab.SessionThresholdRange,
		"!variables.changed || (variables.t >= 1 && variables.t <= variables.n)",
		`"threshold t=" + string(variables.t) + " is outside 1..n (n=" + string(variables.n) + "); set 1 <= t <= n"`))
}

// sessionSpecValid checks the values session.rego's session-spec-valid checks. Its other findings (unknown and
// case-variant keys, a spec or threshold that is no object) never reach admission through the API server: the
// CRD's structural schema prunes or rejects them first.
func sessionSpecValid(literals) rule {
	problem := func(cond, text string) string { return "(" + cond + " ? [" + text + "] : [])" }
	bad := func(obj, key string) string {
		f := obj + "." + key
		return "has(" + f + ") && (" + f + " < 0 || " + f + " > 2147483647)"
	}
	problems := []string{
		problem(`!has(object.spec.type) || !(object.spec.type in `+quoteList(vocab.SessionTypes)+`)`,
			`"spec.type " + (has(object.spec.type) ? string(object.spec.type) : "(absent)") + " is not one of `+strings.Join(vocab.SessionTypes, ", ")+`"`),
		problem(`!has(object.spec.threshold)`, `"spec.threshold is missing or not an object"`),
	}
	for _, key := range []string{"t", "n"} {
		f := "object.spec.threshold." + key
		problems = append(problems, problem(`has(object.spec.threshold) && (!has(`+f+`) || `+f+` < 0 || `+f+` > 2147483647)`,
			`"spec.threshold.`+key+` is " + (has(`+f+`) ? string(`+f+`) : "(absent)") + ", not a whole number from 1"`))
	}
	for _, key := range vocab.Roles {
		f := "object.spec.composition." + key
		problems = append(problems, problem(`has(object.spec.composition) && `+bad("object.spec.composition", key),
			`"spec.composition.`+key+` is " + string(`+f+`) + ", not a whole number from 0"`))
	}
	vars := append(sessionVariables(), variable("problems", strings.Join(problems, " + ")))
	return sessionRule(vocab.SessionSpecValid, admissionregistrationv1.Validation{}).
		with(vars, check(vocab.SessionSpecValid, "!variables.changed || size(variables.problems) == 0",
			`variables.problems.join("; ") + "; write the spec as the MPCSession CRD defines it"`))
}

func (r rule) with(vars []admissionregistrationv1.Variable, val admissionregistrationv1.Validation) rule {
	r.variables = vars
	r.validations = []admissionregistrationv1.Validation{val}
	return r
}

// persistentQuorum is workload.rego's persistent-quorum: an UPDATE of a persistent StatefulSet (named in the
// persistent workloads, or any StatefulSet whose template is persistent when none is named) or of its scale
// subresource may not take spec.replicas below t, nor lower it further once below.
func persistentQuorum(l literals) rule {
	k := l.roleKey
	vars := append(commonVariables(),
		variable("scale", `request.kind.kind == "Scale"`),
		variable("labels", `!variables.scale && has(object.spec.template.metadata) && has(object.spec.template.metadata.labels) ? object.spec.template.metadata.labels : {}`),
		variable("pool", `variables.name in `+l.workloads+` || (!variables.scale && size(`+l.workloads+`) == 0 && `+k+` in variables.labels && variables.labels[`+k+`] == "persistent")`),
		// The API server defaults a StatefulSet's replicas to 1; autoscaling/v1 omits a Scale's 0.
		variable("replicas", `has(object.spec.replicas) ? object.spec.replicas : (variables.scale ? 0 : 1)`),
		variable("oldReplicas", `oldObject != null && has(oldObject.spec.replicas) ? oldObject.spec.replicas : (variables.scale ? 0 : 1)`),
	)
	t := "(" + l.threshold + ")"
	return rule{
		id: vocab.PersistentQuorum, resources: []string{"statefulsets", "statefulsets/scale"}, operations: []string{"UPDATE"},
		variables: vars,
		validations: []admissionregistrationv1.Validation{check(vocab.PersistentQuorum,
			"!variables.pool || "+t+" <= 0 || variables.replicas >= "+t+" || variables.replicas >= variables.oldReplicas",
			`string(variables.replicas) + (variables.replicas == 1 ? " replica" : " replicas") + " would leave fewer than t=" + string(`+t+`) + `+
				`" persistent parties, so the pool could not sign; keep at least " + string(`+t+`) + " replicas (a lower t is a reshare, not a scale-down)"`)},
	}
}

// originVariables are what party-persistent-origin reads of a pod or a workload's pod template: its labels,
// whether it is a persistent party, and for a pod its controller owner and what it was before an UPDATE
// (pod.rego: persistent_party, owner, party_unchanged).
func originVariables(l literals) []admissionregistrationv1.Variable {
	k := l.roleKey
	return append(commonVariables(),
		variable("isPod", `request.kind.kind == "Pod"`),
		variable("update", `request.operation == "UPDATE"`),
		variable("template", `variables.isPod ? object : has(object.spec.jobTemplate) ? object.spec.jobTemplate.spec.template : object.spec.template`),
		variable("labels", `has(variables.template.metadata) && has(variables.template.metadata.labels) ? variables.template.metadata.labels : {}`),
		variable("persistent", selectorMatch(l, v("labels"))+" && "+k+" in variables.labels && variables.labels["+k+`] == "persistent"`),
		variable("oldLabels", `variables.isPod && variables.update && oldObject != null && has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}`),
		variable("partyUnchanged", v("update")+" && "+selectorMatch(l, v("oldLabels"))+" && "+
			"("+k+" in variables.oldLabels) == ("+k+" in variables.labels) && (!("+k+" in variables.labels) || variables.oldLabels["+k+"] == variables.labels["+k+"])"),
		// readOwner: the first owner reference marked controller.
		variable("owners", `variables.isPod && has(object.metadata.ownerReferences) ? `+
			`object.metadata.ownerReferences.filter(r, has(r.controller) && r.controller) : []`),
		variable("ownerText", `size(variables.owners) > 0 && has(variables.owners[0].kind) && variables.owners[0].kind != "" ? `+
			`variables.owners[0].kind + " " + (has(variables.owners[0].name) ? variables.owners[0].name : "") : "none"`),
		variable("persistentOwner", `size(variables.owners) > 0 && has(variables.owners[0].kind) && variables.owners[0].kind == "StatefulSet" && `+
			`(size(`+l.workloads+`) == 0 || (has(variables.owners[0].name) && variables.owners[0].name in `+l.workloads+`))`),
	)
}

// partyPersistentOrigin is pod.rego's and workload.rego's party-persistent-origin: a persistent party pod is
// created by a controller identity (request.userInfo.username) for one of the persistent StatefulSets (its
// controller owner reference), no pod becomes persistent by an UPDATE, and only the persistent StatefulSets
// have a persistent party template.
func partyPersistentOrigin(l literals) rule {
	k := l.roleKey
	create := `request.operation == "CREATE"`
	return rule{
		id: vocab.PartyPersistentOrigin, resources: storageResources, operations: createUpdate,
		matchConditions: []admissionregistrationv1.MatchCondition{statusMatchCondition()},
		variables:       originVariables(l),
		validations: []admissionregistrationv1.Validation{
			check(vocab.PartyPersistentOrigin,
				"!variables.isPod || !("+create+") || !variables.persistent || variables.persistentOwner",
				`"a persistent party pod must be created by " + `+l.workloadsText+` + " (its controller owner: " + variables.ownerText + "); run persistent parties only in the persistent pool"`),
			check(vocab.PartyPersistentOrigin,
				"!variables.isPod || !("+create+") || !variables.persistent || request.userInfo.username in "+l.controllerUsers,
				`"a persistent party pod may only be created by the StatefulSet controller (" + `+l.controllerUsersText+` + "), not by \"" + request.userInfo.username + "\"; scale the persistent pool instead"`),
			check(vocab.PartyPersistentOrigin,
				"!variables.isPod || !variables.update || !variables.persistent || variables.partyUnchanged",
				`"a pod cannot become a persistent party by an update (" + `+l.selectorText+` + " and " + `+k+` + "=persistent added); persistent parties are created by the persistent pool"`),
			check(vocab.PartyPersistentOrigin,
				`variables.isPod || !variables.persistent || (request.kind.kind == "StatefulSet" && (size(`+l.workloads+`) == 0 || variables.name in `+l.workloads+`))`,
				`"only " + `+l.workloadsText+` + " may run persistent parties; give this pod template a non-persistent role or add its pool to the persistent workloads"`),
		},
	}
}

// partyBindingLabels is binding.rego's party-binding-labels: the API server copies a Binding's labels onto the
// pod it binds (pods/binding, and the legacy bindings resource), so a Binding may set neither the role label nor
// a party selector label.
func partyBindingLabels(l literals) rule {
	return rule{
		id: vocab.PartyBindingLabels, resources: []string{"pods/binding", "bindings"}, operations: []string{"CREATE"},
		variables: append(commonVariables(),
			variable("keys", `has(object.metadata.labels) ? `+l.partyKeys+`.filter(k, k in object.metadata.labels) : []`)),
		validations: []admissionregistrationv1.Validation{check(vocab.PartyBindingLabels, "size(variables.keys) == 0",
			`"a Binding would set the pod's " + variables.keys.join(", ") + " label(s), which decide whether it is a party and its role; bind without those labels and set them when the pod is created"`)},
	}
}

// shareClaimTest is lib.claim_is_share of the CEL string c.
func shareClaimTest(l literals, c string) string {
	return l.claimPrefixes + `.exists(p, p != "" && ` + c + `.startsWith(p) && ` + c + `.substring(size(p)).matches("^[0-9]+$"))`
}

// claimClones is lib.share_clones of one claim spec (a CEL expression): its dataSource and dataSourceRef that
// are share claims, as "PersistentVolumeClaim <name>".
func claimClones(l literals, spec string) string {
	sources := "(has(" + spec + ".dataSource) ? [" + spec + ".dataSource] : []) + (has(" + spec + ".dataSourceRef) ? [" + spec + ".dataSourceRef] : [])"
	return "(" + sources + `).filter(d, has(d.kind) && d.kind == "PersistentVolumeClaim" && has(d.name) && ` + shareClaimTest(l, "d.name") +
		`).map(d, "PersistentVolumeClaim " + d.name)`
}

// ephemeralClones are the clones of a pod spec's generic ephemeral volumes, as a CEL list of lists.
func ephemeralClones(l literals, spec string) string {
	return "(has(" + spec + ".volumes) ? " + spec + ".volumes.filter(v, has(v.ephemeral) && has(v.ephemeral.volumeClaimTemplate) && " +
		"has(v.ephemeral.volumeClaimTemplate.spec)).map(v, " + claimClones(l, "v.ephemeral.volumeClaimTemplate.spec") + ") : [])"
}

// shareStorageCopy is share-storage-copy of pod.rego, workload.rego and storage.rego: no generic ephemeral
// volume of a pod (new on an UPDATE) or pod template, no volumeClaimTemplate of a StatefulSet, and no
// PersistentVolumeClaim clones a share claim; no VolumeSnapshot copies one. Members of the break-glass groups
// (request.userInfo.groups) may clone or snapshot a share claim directly (a backup).
func shareStorageCopy(l literals) rule {
	resources := append(slices.Clone(storageResources), "persistentvolumeclaims", "volumesnapshots")
	breakGlass := "(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in " + l.breakGlassGroups + "))"
	copyText := `"; a copy of a key share outside the persistent pool is a leaked share"`
	return rule{
		id: vocab.ShareStorageCopy, resources: resources, operations: createUpdate,
		matchConditions: []admissionregistrationv1.MatchCondition{statusMatchCondition()},
		variables: append(commonVariables(),
			variable("kind", `request.kind.kind`),
			variable("isWorkload", `variables.kind in `+quoteList(vocab.WorkloadKinds())),
			variable("template", `variables.kind == "Pod" ? object : !variables.isWorkload ? {} : `+
				`has(object.spec.jobTemplate) ? object.spec.jobTemplate.spec.template : object.spec.template`),
			variable("spec", `has(variables.template.spec) ? variables.template.spec : {}`),
			variable("podClones", `variables.kind == "Pod" || variables.isWorkload ? (`+ephemeralClones(l, "variables.spec")+
				` + (variables.isWorkload && has(object.spec.volumeClaimTemplates) ? object.spec.volumeClaimTemplates.filter(t, has(t.spec)).map(t, `+
				claimClones(l, "t.spec")+`) : [])).flatten().distinct() : []`),
			variable("oldClones", `variables.kind == "Pod" && request.operation == "UPDATE" && oldObject != null && has(oldObject.spec) ? `+
				ephemeralClones(l, "oldObject.spec")+`.flatten() : []`),
			variable("newClones", `variables.podClones.filter(x, !(x in variables.oldClones)).sort()`),
			variable("claimClones", `variables.kind == "PersistentVolumeClaim" && has(object.spec) ? `+claimClones(l, "object.spec")+`.distinct().sort() : []`),
			variable("snapshotClaim", `variables.kind == "VolumeSnapshot" && has(object.spec) && has(object.spec.source) && `+
				`has(object.spec.source.persistentVolumeClaimName) ? object.spec.source.persistentVolumeClaimName : ""`),
			variable("breakGlass", breakGlass),
		),
		validations: []admissionregistrationv1.Validation{
			check(vocab.ShareStorageCopy, `variables.kind != "Pod" || size(variables.newClones) == 0`,
				`"an ephemeral volume clones the persistent pool's share storage (" + variables.newClones.join(", ") + ")" + `+copyText),
			check(vocab.ShareStorageCopy, `!variables.isWorkload || size(variables.newClones) == 0`,
				`"a volume of the pod template clones the persistent pool's share storage (" + variables.newClones.join(", ") + ")" + `+copyText),
			check(vocab.ShareStorageCopy, `variables.breakGlass || size(variables.claimClones) == 0`,
				`"claim clones the persistent pool's share storage (" + variables.claimClones.join(", ") + ")" + `+copyText+
					` + " (break glass: members of " + `+l.breakGlassText+` + ")"`),
			check(vocab.ShareStorageCopy, `variables.breakGlass || variables.snapshotClaim == "" || !(`+shareClaimTest(l, "variables.snapshotClaim")+`)`,
				`"snapshot copies the share claim " + variables.snapshotClaim + `+copyText+` + " (break glass: members of " + `+l.breakGlassText+` + ")"`),
		},
	}
}

// builders are the native policies by id, in no particular order: rules() orders them as vocab.Policies.
var builders = map[string]func(literals) rule{
	vocab.PartyRoleRequired:            partyRoleRequired,
	vocab.PartyRoleValid:               partyRoleValid,
	vocab.PartyRoleImmutable:           partyRoleImmutable,
	vocab.WorkloadPartyRole:            workloadPartyRole,
	vocab.SessionCompositionNonempty:   sessionCompositionNonempty,
	vocab.SessionDelegateOnlyThreshold: sessionDelegateOnlyThreshold,
	vocab.SessionCompositionSum:        sessionCompositionSum,
	vocab.SessionThresholdRange:        sessionThresholdRange,
	vocab.DelegateNoShareStorage:       delegateNoShareStorage,
	vocab.ShareStoragePersistentOnly:   shareStoragePersistentOnly,
	vocab.SessionSpecValid:             sessionSpecValid,
	vocab.PersistentQuorum:             persistentQuorum,
	vocab.PartyPersistentOrigin:        partyPersistentOrigin,
	vocab.PartyBindingLabels:           partyBindingLabels,
	vocab.ShareStorageCopy:             shareStorageCopy,
}

// rules builds every native policy with the literals l, in the order of vocab.Policies.
func rules(l literals) []rule {
	var out []rule
	for _, id := range IDs() {
		out = append(out, builders[id](l))
	}
	return out
}
