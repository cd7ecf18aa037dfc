# METADATA
# title: mpcguard's rules written directly against input.request
# description: |
#   The set-up of OPA's own admission-control tutorial: OPA's default decision
#   (served at POST / with the AdmissionReview as input; the server runs with
#   default_decision=/direct/main, as wrapper.rego takes data.system.main), reads
#   the AdmissionRequest where it is — input.request.object.metadata.labels, its
#   volumes, its containers — with no intermediate input document and no `with`.
#   The rules are policies/*.rego's, rewritten against the request, with the same
#   messages, the same configuration (data.mpcguard.config) and the same answer as
#   `mpcguard webhook --inventory=false`: checks that need the cluster inventory
#   are reported as skipped. test/bench holds it to mpcguard on every review of
#   the mix and the edge cases. Objects are assumed well-formed, as in wrapper.rego.
package direct

config := data.mpcguard.config

request := input.request

kind := request.kind.kind

role_key := config.role_label_key

checked if request.operation in {"CREATE", "UPDATE"}

update if request.operation == "UPDATE"

obj := request.object

old := request.oldObject if {
	update
	is_object(request.oldObject)
} else := null

old_spec := part(old, "spec")

# The object's parts, {} (or []) when absent or null.
part(o, key) := o[key] if {
	is_object(o)
	is_object(o[key])
} else := {}

list(o, key) := o[key] if {
	is_object(o)
	is_array(o[key])
} else := []

str(o, key) := o[key] if {
	is_object(o)
	is_string(o[key])
} else := ""

meta := part(obj, "metadata")

spec := part(obj, "spec")

labels_of(o) := part(part(o, "metadata"), "labels")

labels := labels_of(obj)

old_labels := labels_of(old)

# Messages name the object as the webhook does.
namespace := request.namespace if {
	is_string(request.namespace)
	request.namespace != ""
} else := str(meta, "namespace")

connect_kinds := {"PodExecOptions", "PodAttachOptions", "PodPortForwardOptions", "PodProxyOptions"}

# pods/proxy names its target [scheme:]name[:port]; the pod is the name.
name := connect_pod_name(str(request, "name")) if {
	kind in connect_kinds
} else := str(meta, "name") if {
	str(meta, "name") != ""
} else := request.name if {
	is_string(request.name)
	request.name != ""
} else := concat("", [str(meta, "generateName"), "*"]) if {
	str(meta, "generateName") != ""
} else := ""

connect_pod_name(id) := parts[0] if {
	parts := split(id, ":")
	count(parts) <= 2
	parts[0] != ""
} else := parts[1] if {
	parts := split(id, ":")
	count(parts) == 3
	parts[1] != ""
	parts[0] in {"", "http", "https"}
} else := id

subresource := str(request, "subResource")

object_text := sprintf("Pod %s/%s (%s)", [namespace, name, subresource]) if {
	subresource != ""
} else := sprintf("%s %s/%s", [kind, namespace, name])

# Helpers, as policies/lib.rego has them.
matches_selector(l) if {
	count(config.party_selector) > 0
	every k, v in config.party_selector {
		l[k] == v
	}
}

selector_text := concat(",", sort([sprintf("%s=%s", [k, v]) | some k, v in config.party_selector]))

roles_text := concat(", ", [sprintf("%v", [r]) | some r in config.allowed_roles])

non_persistent(role) if {
	role in config.allowed_roles
	role != "persistent"
}

claim_is_share(claim) if {
	some prefix in config.share_storage.claim_prefixes
	prefix != ""
	startswith(claim, prefix)
	regex.match(`^[0-9]+$`, substring(claim, count(prefix), -1))
}

break_glass if {
	some g in list(part(request, "userInfo"), "groups")
	g in config.break_glass_groups
}

party_noun(n) := "party" if n == 1

else := "parties"

# Share storage a pod spec reaches: claims, Secrets (volumes, projected sources, volume drivers' references,
# containers' env and envFrom) and hostPaths, as "PersistentVolumeClaim x", "Secret x", "hostPath p".
secret_refs := [["csi", "nodePublishSecretRef"], ["cephfs", "secretRef"], ["rbd", "secretRef"], ["iscsi", "secretRef"], ["flexVolume", "secretRef"], ["scaleIO", "secretRef"], ["storageos", "secretRef"]]

access(pod_spec, extra_claims) := (claims | secrets) | host_paths if {
	claims := {sprintf("PersistentVolumeClaim %s", [c]) |
		some c in array.concat(extra_claims, [str(part(v, "persistentVolumeClaim"), "claimName") | some v in list(pod_spec, "volumes")])
		claim_is_share(c)
	}
	secrets := {sprintf("Secret %s", [s]) |
		some s in config.share_storage.secret_names
		uses_secret(pod_spec, s)
	}
	host_paths := {sprintf("hostPath %s", [path]) |
		some v in list(pod_spec, "volumes")
		is_object(v.hostPath)
		path := str(v.hostPath, "path")
	}
}

uses_secret(pod_spec, s) if {
	some v in list(pod_spec, "volumes")
	str(part(v, "secret"), "secretName") == s
}

uses_secret(pod_spec, s) if {
	some v in list(pod_spec, "volumes")
	some src in list(part(v, "projected"), "sources")
	str(part(src, "secret"), "name") == s
}

uses_secret(pod_spec, s) if {
	some v in list(pod_spec, "volumes")
	some ref in secret_refs
	str(part(part(v, ref[0]), ref[1]), "name") == s
}

uses_secret(pod_spec, s) if {
	some v in list(pod_spec, "volumes")
	str(part(v, "azureFile"), "secretName") == s
}

uses_secret(pod_spec, s) if {
	some key in ["initContainers", "containers", "ephemeralContainers"]
	some c in list(pod_spec, key)
	some e in list(c, "env")
	str(part(part(e, "valueFrom"), "secretKeyRef"), "name") == s
}

uses_secret(pod_spec, s) if {
	some key in ["initContainers", "containers", "ephemeralContainers"]
	some c in list(pod_spec, key)
	some e in list(c, "envFrom")
	str(part(e, "secretRef"), "name") == s
}

share_sources(claim_spec) := {sprintf("PersistentVolumeClaim %s", [str(ds, "name")]) |
	some key in ["dataSource", "dataSourceRef"]
	ds := part(claim_spec, key)
	str(ds, "kind") == "PersistentVolumeClaim"
	claim_is_share(str(ds, "name"))
}

clones(pod_spec) := {c |
	some v in list(pod_spec, "volumes")
	some c in share_sources(part(part(part(v, "ephemeral"), "volumeClaimTemplate"), "spec"))
}

# Pods.
pod_request if {
	kind == "Pod"
	checked
}

party_pod if {
	pod_request
	matches_selector(labels)
}

old_party_pod if {
	update
	matches_selector(old_labels)
}

role_unchanged if {
	update
	object.get(old_labels, role_key, null) == object.get(labels, role_key, null)
}

party_unchanged if {
	old_party_pod
	role_unchanged
}

violation contains {"policy": "party-role-required", "msg": msg} if {
	party_pod
	not labels[role_key]
	not party_unchanged
	msg := sprintf("party pod (%s) has no %s label; add %s with one of %s", [selector_text, role_key, role_key, roles_text])
}

violation contains {"policy": "party-role-valid", "msg": msg} if {
	party_pod
	role := labels[role_key]
	not role in config.allowed_roles
	not party_unchanged
	msg := sprintf("%s=%q is not a valid role; set %s to one of %s (exact, lower case)", [role_key, role, role_key, roles_text])
}

legacy_fix(old_role, new_role) if {
	not old_role in config.allowed_roles
	non_persistent(new_role)
}

violation contains {"policy": "party-role-immutable", "msg": msg} if {
	pod_request
	update
	old_role := old_labels[role_key]
	new_role := labels[role_key]
	old_role != new_role
	not legacy_fix(old_role, new_role)
	msg := sprintf("%s cannot change from %q to %q; delete the pod and create it with the role it should have", [role_key, old_role, new_role])
}

violation contains {"policy": "party-role-immutable", "msg": msg} if {
	pod_request
	update
	old_role := old_labels[role_key]
	not labels[role_key]
	msg := sprintf("%s %q cannot be removed; delete the pod and create it with the role it should have", [role_key, old_role])
}

pod_access := access(spec, [])

new_pod_access := pod_access - access(old_spec, []) if {
	role_unchanged
	membership_unchanged
} else := pod_access

membership_unchanged if {
	party_pod
	old_party_pod
}

membership_unchanged if {
	pod_request
	update
	not party_pod
	not old_party_pod
}

violation contains {"policy": "delegate-no-share-storage", "msg": msg} if {
	party_pod
	role := labels[role_key]
	non_persistent(role)
	count(new_pod_access) > 0
	msg := sprintf("%s party uses the persistent pool's share storage (%s); remove those volumes and env references: only persistent parties may hold key shares", [role, concat(", ", sort(new_pod_access))])
}

violation contains {"policy": "share-storage-persistent-only", "msg": msg} if {
	pod_request
	not party_pod
	shares := {x | some x in new_pod_access; not startswith(x, "hostPath ")}
	count(shares) > 0
	msg := sprintf("pod is not a party pod (%s) but uses the persistent pool's share storage (%s); only persistent party pods of the persistent pool may hold key shares", [selector_text, concat(", ", sort(shares))])
}

violation contains {"policy": "share-storage-copy", "msg": msg} if {
	pod_request
	new := clones(spec) - clones(old_spec)
	count(new) > 0
	msg := sprintf("an ephemeral volume clones the persistent pool's share storage (%s); a copy of a key share outside the persistent pool is a leaked share", [concat(", ", sort(new))])
}

persistent_party if {
	party_pod
	labels[role_key] == "persistent"
}

owners := [r | some r in list(meta, "ownerReferences"); object.get(r, "controller", false) == true]

owner := {"kind": str(owners[0], "kind"), "name": str(owners[0], "name")} if str(owners[0], "kind") != ""

owner_text := sprintf("%s %s", [owner.kind, owner.name]) if owner

else := "none"

persistent_owner if {
	owner.kind == "StatefulSet"
	count(config.persistent_workloads) == 0
}

persistent_owner if {
	owner.kind == "StatefulSet"
	owner.name in config.persistent_workloads
}

workloads_text := concat(", ", [sprintf("StatefulSet %s", [w]) | some w in config.persistent_workloads]) if {
	count(config.persistent_workloads) > 0
} else := "a StatefulSet"

username := str(part(request, "userInfo"), "username")

violation contains {"policy": "party-persistent-origin", "msg": msg} if {
	persistent_party
	request.operation == "CREATE"
	not persistent_owner
	msg := sprintf("a persistent party pod must be created by %s (its controller owner: %s); run persistent parties only in the persistent pool", [workloads_text, owner_text])
}

violation contains {"policy": "party-persistent-origin", "msg": msg} if {
	persistent_party
	request.operation == "CREATE"
	not username in config.controller_users
	msg := sprintf("a persistent party pod may only be created by the StatefulSet controller (%s), not by %q; scale the persistent pool instead", [concat(", ", config.controller_users), username])
}

violation contains {"policy": "party-persistent-origin", "msg": msg} if {
	persistent_party
	update
	not party_unchanged
	msg := sprintf("a pod cannot become a persistent party by an update (%s and %s=%s added); persistent parties are created by the persistent pool", [selector_text, role_key, "persistent"])
}

violation contains {"policy": "party-access", "msg": msg} if {
	pod_request
	update
	old_labels[role_key] == "persistent"
	count(list(spec, "ephemeralContainers")) > count(list(old_spec, "ephemeralContainers"))
	not break_glass
	msg := sprintf("a debug container in a persistent party reaches its key shares; only members of %s may add one (break glass: kubectl debug ... --as=<you> --as-group=<group>, recorded in the audit log)", [concat(", ", config.break_glass_groups)])
}

# Workloads.
workload_request if {
	kind in {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"}
	checked
}

template := part(part(part(spec, "jobTemplate"), "spec"), "template") if kind == "CronJob"

else := part(spec, "template")

template_labels := labels_of(template)

party_template if {
	workload_request
	matches_selector(template_labels)
}

claim_templates := [vct | some vct in list(spec, "volumeClaimTemplates"); is_object(vct)]

template_access := access(part(template, "spec"), [sprintf("%s-%s-0", [str(part(vct, "metadata"), "name"), str(meta, "name")]) | some vct in claim_templates])

violation contains {"policy": "workload-party-role", "msg": msg} if {
	party_template
	not template_labels[role_key]
	msg := sprintf("pod template matches the party selector (%s) but has no %s label; add %s (one of %s) to the pod template labels", [selector_text, role_key, role_key, roles_text])
}

violation contains {"policy": "workload-party-role", "msg": msg} if {
	party_template
	role := template_labels[role_key]
	not role in config.allowed_roles
	msg := sprintf("pod template has %s=%q, not one of %s; set it to one of them in the pod template labels", [role_key, role, roles_text])
}

violation contains {"policy": "delegate-no-share-storage", "msg": msg} if {
	party_template
	role := template_labels[role_key]
	non_persistent(role)
	count(template_access) > 0
	msg := sprintf("pod template with %s=%s uses the persistent pool's share storage (%s); remove those volumes and env references: only persistent parties may hold key shares", [role_key, role, concat(", ", sort(template_access))])
}

violation contains {"policy": "share-storage-persistent-only", "msg": msg} if {
	workload_request
	not party_template
	shares := {x | some x in template_access; not startswith(x, "hostPath ")}
	count(shares) > 0
	msg := sprintf("pod template is not a party template (%s) but uses the persistent pool's share storage (%s); only persistent party pods of the persistent pool may hold key shares", [selector_text, concat(", ", sort(shares))])
}

violation contains {"policy": "share-storage-copy", "msg": msg} if {
	workload_request
	copies := clones(part(template, "spec")) | {c | some vct in claim_templates; some c in share_sources(part(vct, "spec"))}
	count(copies) > 0
	msg := sprintf("a volume of the pod template clones the persistent pool's share storage (%s); a copy of a key share outside the persistent pool is a leaked share", [concat(", ", sort(copies))])
}

persistent_workload if {
	kind == "StatefulSet"
	count(config.persistent_workloads) == 0
}

persistent_workload if {
	kind == "StatefulSet"
	name in config.persistent_workloads
}

violation contains {"policy": "party-persistent-origin", "msg": msg} if {
	party_template
	template_labels[role_key] == "persistent"
	not persistent_workload
	msg := sprintf("only %s may run persistent parties; give this pod template a non-persistent role or add its pool to the persistent workloads", [workloads_text])
}

# MPCSessions: policies/session.rego with the spec read from the object.
spec_or_null(o) := o.spec if {
	is_object(o)
	o.spec != null
} else := null

spec_changed if request.operation == "CREATE"

spec_changed if {
	update
	spec_or_null(obj) != spec_or_null(old)
}

session_request if {
	kind == "MPCSession"
	checked
	spec_changed
}

session := obj.spec if {
	session_request
	is_object(obj.spec)
}

roles := ["persistent", "delegate", "temporary"]

threshold := object.get(session, "threshold", {})

whole(o, key) if {
	is_number(o[key])
	o[key] == floor(o[key])
	o[key] >= 0
	o[key] <= 2147483647
}

count_of(o, key) := o[key] if {
	is_object(o)
	whole(o, key)
} else := 0

t := count_of(threshold, "t")

n := count_of(threshold, "n")

composition := {role: count_of(session.composition, role) | some role in roles} if is_object(session.composition)

empty_composition if {
	every _, value in composition {
		value == 0
	}
}

composition_sum := (composition.persistent + composition.delegate) + composition.temporary

spec_problems contains "spec is missing or not an object" if {
	session_request
	not is_object(spec_or_null(obj))
}

spec_problems contains sprintf("unknown field spec.%s (fields are case-sensitive: type, threshold, composition)", [key]) if {
	some key, _ in session
	not key in {"type", "threshold", "composition"}
}

spec_problems contains sprintf("spec.type %v is not one of keygen, sign, reshare", [object.get(session, "type", "(absent)")]) if {
	session
	not object.get(session, "type", null) in {"keygen", "sign", "reshare"}
}

spec_problems contains "spec.threshold is missing or not an object" if {
	session
	not is_object(object.get(session, "threshold", null))
}

spec_problems contains sprintf("unknown field spec.threshold.%s (t and n are lower case)", [key]) if {
	is_object(session.threshold)
	some key, _ in session.threshold
	not key in {"t", "n"}
}

spec_problems contains sprintf("spec.threshold.%s is %v, not a whole number from 1", [key, object.get(session.threshold, key, "(absent)")]) if {
	is_object(session.threshold)
	some key in ["t", "n"]
	not whole(session.threshold, key)
}

spec_problems contains "spec.composition is not an object" if {
	session.composition != null
	not is_object(session.composition)
}

spec_problems contains sprintf("unknown field spec.composition.%s (persistent, delegate and temporary are lower case)", [key]) if {
	is_object(session.composition)
	some key, _ in session.composition
	not key in roles
}

spec_problems contains sprintf("spec.composition.%s is %v, not a whole number from 0", [key, session.composition[key]]) if {
	is_object(session.composition)
	some key in roles
	session.composition[key] != null
	not whole(session.composition, key)
}

violation contains {"policy": "session-spec-valid", "msg": msg} if {
	count(spec_problems) > 0
	msg := sprintf("%s; write the spec as the MPCSession CRD defines it", [concat("; ", sort(spec_problems))])
}

violation contains {"policy": "session-composition-nonempty", "msg": msg} if {
	empty_composition
	msg := sprintf("composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all %v %s persistent) or give the counts", [n, party_noun(n)])
}

violation contains {"policy": "session-delegate-only-threshold", "msg": msg} if {
	t >= 1
	composition.delegate + composition.temporary >= t
	msg := sprintf("%v delegate + %v temporary parties could reach the signing threshold t=%v without a persistent party; use at most %v non-persistent %s or raise t", [composition.delegate, composition.temporary, t, t - 1, party_noun(t - 1)])
}

violation contains {"policy": "session-composition-sum", "msg": msg} if {
	not empty_composition
	composition_sum != n
	msg := sprintf("composition adds up to %v (persistent=%v, delegate=%v, temporary=%v), not n=%v; make the counts add up to n", [composition_sum, composition.persistent, composition.delegate, composition.temporary, n])
}

threshold_in_range if {
	t >= 1
	t <= n
}

violation contains {"policy": "session-threshold-range", "msg": msg} if {
	session
	not threshold_in_range
	msg := sprintf("threshold t=%v is outside 1..n (n=%v); set 1 <= t <= n", [t, n])
}

persistent_needed := composition.persistent if composition

else := n

# OPA's server has no cluster inventory: the check is reported as skipped, as the webhook without one does.
violation contains {"policy": "session-persistent-available", "msg": msg, "skipped": true} if {
	session
	persistent_needed > 0
	msg := sprintf("not checked: no cluster inventory (needs %v Ready persistent %s)", [persistent_needed, party_noun(persistent_needed)])
}

# Bindings, CONNECTs, claims and snapshots.
violation contains {"policy": "party-binding-labels", "msg": msg} if {
	kind == "Binding"
	checked
	keys := {k | some k, _ in labels} & ({k | some k, _ in config.party_selector} | {role_key})
	count(keys) > 0
	msg := sprintf("a Binding would set the pod's %s label(s), which decide whether it is a party and its role; bind without those labels and set them when the pod is created", [concat(", ", sort(keys))])
}

violation contains {"policy": "party-access", "msg": msg, "skipped": true} if {
	request.operation == "CONNECT"
	kind in connect_kinds
	msg := sprintf("not checked: no cluster inventory to tell whether the pod is a persistent party (%s)", [subresource])
}

violation contains {"policy": "share-storage-copy", "msg": msg} if {
	kind == "PersistentVolumeClaim"
	checked
	copies := share_sources(spec)
	count(copies) > 0
	not break_glass
	msg := sprintf("claim clones the persistent pool's share storage (%s); a copy of a key share outside the persistent pool is a leaked share (break glass: members of %s)", [concat(", ", sort(copies)), concat(", ", config.break_glass_groups)])
}

violation contains {"policy": "share-storage-copy", "msg": msg} if {
	kind == "VolumeSnapshot"
	checked
	claim := str(part(spec, "source"), "persistentVolumeClaimName")
	claim_is_share(claim)
	not break_glass
	msg := sprintf("snapshot copies the share claim %s; a copy of a key share outside the persistent pool is a leaked share (break glass: members of %s)", [claim, concat(", ", config.break_glass_groups)])
}

# The answer, as wrapper.rego gives it.
action(id) := a if {
	a := config.enforcement[id]
	a in {"warn", "off"}
} else := "deny"

message(v) := sprintf("[%s] %s: %s", [v.policy, object_text, v.msg])

skipped(v) if v.skipped == true

denials := sort([message(v) |
	some v in violation
	not skipped(v)
	action(v.policy) == "deny"
])

warnings := array.concat(
	sort([message(v) |
		some v in violation
		not skipped(v)
		action(v.policy) == "warn"
	]),
	sort([message(v) |
		some v in violation
		skipped(v)
		action(v.policy) != "off"
	]),
)

verdict := {"uid": request.uid, "allowed": true, "status": {"code": 200}} if {
	count(denials) == 0
} else := {"uid": request.uid, "allowed": false, "status": {
	"status": "Failure",
	"code": 403,
	"reason": "Forbidden",
	"message": concat("\n", denials),
}}

warnings_field := {"warnings": warnings} if count(warnings) > 0

else := {}

main := {
	"apiVersion": object.get(input, "apiVersion", "admission.k8s.io/v1"),
	"kind": "AdmissionReview",
	"response": object.union(verdict, warnings_field),
}
