# METADATA
# title: mpcguard on OPA's own server
# description: |
#   The classic OPA admission set-up: OPA's default decision, data.system.main
#   (served at POST / with the AdmissionReview as input), answers an AdmissionReview.
#   It does in Rego what `mpcguard webhook --inventory=false` does in Go: builds the
#   policy input from input.request as policies/engine's buildInput does, evaluates
#   data.mpcguard.main.violation with it, names the object in front of each bare
#   message ("[id] <Kind> <namespace>/<name>: ", as the engine's objectText and
#   decide do), sorts the violations by the configured enforcement (deny unless
#   warn or off; off drops; skipped checks are warnings unless off) and answers as
#   the webhook does: allowed, the denials joined one per line, warn and skipped
#   messages as warnings. Objects are assumed well-formed: the webhook answers a
#   malformed one with HTTP 400, which this wrapper does not imitate.
package system

# METADATA
# title: reviewed kinds
# description: |
#   The group/version/kind of every object the policies look at, and its class
#   (which part of the input it fills): policies/vocab's Kinds.
reviewed_kinds := {
	"/v1/Pod": "pod",
	"apps/v1/Deployment": "workload",
	"apps/v1/StatefulSet": "workload",
	"apps/v1/ReplicaSet": "workload",
	"apps/v1/DaemonSet": "workload",
	"batch/v1/Job": "workload",
	"batch/v1/CronJob": "workload",
	"mpc.mpcguard.io/v1alpha1/MPCSession": "session",
	"/v1/Binding": "binding",
	"/v1/PodExecOptions": "connect",
	"/v1/PodAttachOptions": "connect",
	"/v1/PodPortForwardOptions": "connect",
	"/v1/PodProxyOptions": "connect",
	"/v1/PersistentVolumeClaim": "storage",
	"snapshot.storage.k8s.io/v1/VolumeSnapshot": "storage",
}

# METADATA
# title: request
# description: The AdmissionRequest.
request := input.request

# METADATA
# title: class
# description: Which part of the input the object fills; undefined for kinds the policies do not look at.
class := reviewed_kinds[sprintf("%s/%s/%s", [
	text(object.get(request.kind, "group", "")),
	text(object.get(request.kind, "version", "")),
	text(object.get(request.kind, "kind", "")),
])]

# METADATA
# title: reviewed
# description: |
#   The policies look at this kind and operation: CONNECT for the connect class,
#   CREATE or UPDATE for the others; everything else is allowed untouched.
reviewed if {
	class == "connect"
	request.operation == "CONNECT"
}

reviewed if {
	class != "connect"
	request.operation in {"CREATE", "UPDATE"}
}

# METADATA
# title: text
# description: x when it is a string, otherwise "" (absent and null read as empty, as in the Go adapter).
text(x) := x if {
	is_string(x)
} else := ""

# METADATA
# title: field
# description: obj[key] when obj is an object and the field is neither absent nor null, otherwise undefined.
field(obj, key) := obj[key] if {
	is_object(obj)
	obj[key] != null
}

# METADATA
# title: object field
# description: obj[key] when it is an object, otherwise undefined.
object_field(obj, key) := v if {
	v := field(obj, key)
	is_object(v)
}

# METADATA
# title: array field
# description: obj[key] when it is an array, otherwise [].
array_field(obj, key) := v if {
	v := field(obj, key)
	is_array(v)
} else := []

# METADATA
# title: text field
# description: obj[key] when it is a string, otherwise "".
text_field(obj, key) := text(object.get(obj, key, "")) if {
	is_object(obj)
} else := ""

# METADATA
# title: meta
# description: The object's metadata, or {} when absent.
meta(obj) := m if {
	m := object_field(obj, "metadata")
} else := {}

# METADATA
# title: spec of
# description: The object's spec, or {} when absent.
spec_of(obj) := s if {
	s := object_field(obj, "spec")
} else := {}

# METADATA
# title: labels
# description: The metadata labels of an object or pod template, {} when absent.
labels(obj) := l if {
	l := object_field(meta(obj), "labels")
} else := {}

# METADATA
# title: dedup
# description: The list without repeats, first occurrences in order (the Go adapter's data sources).
dedup(list) := [x |
	some i, x in list
	not x in array.slice(list, 0, i)
]

# METADATA
# title: volumes
# description: The spec.volumes of a pod or pod template.
volumes(obj) := array_field(spec_of(obj), "volumes")

# METADATA
# title: claims
# description: The PersistentVolumeClaim names of the volumes, in volume order.
claims(obj) := [text_field(pvc, "claimName") |
	some v in volumes(obj)
	pvc := object_field(v, "persistentVolumeClaim")
]

# METADATA
# title: host paths
# description: The paths of the hostPath volumes, in volume order.
host_paths(obj) := [text_field(hp, "path") |
	some v in volumes(obj)
	hp := object_field(v, "hostPath")
]

# METADATA
# title: volume secret refs
# description: |
#   The volume types whose driver reads a Secret, and the field holding the reference
#   (the Go adapter's volumeSecretRefs; azureFile names its Secret directly).
volume_secret_refs := [
	["csi", "nodePublishSecretRef"],
	["cephfs", "secretRef"],
	["rbd", "secretRef"],
	["iscsi", "secretRef"],
	["flexVolume", "secretRef"],
	["scaleIO", "secretRef"],
	["storageos", "secretRef"],
]

# METADATA
# title: volume secrets
# description: |
#   The Secret names of one volume: a secret volume's, its projected secret sources',
#   then the non-empty references of volume drivers and azureFile.
volume_secrets(v) := array.concat(
	array.concat(
		[text_field(s, "secretName") | s := object_field(v, "secret")],
		[text_field(s, "name") |
			some src in array_field(object_field(v, "projected"), "sources")
			s := object_field(src, "secret")
		],
	),
	array.concat(
		[name |
			some ref in volume_secret_refs
			name := text_field(object_field(object_field(v, ref[0]), ref[1]), "name")
			name != ""
		],
		[name |
			name := text_field(object_field(v, "azureFile"), "secretName")
			name != ""
		],
	),
)

# METADATA
# title: container secrets
# description: |
#   The non-empty Secret names one container reads into its environment:
#   env[].valueFrom.secretKeyRef, then envFrom[].secretRef.
container_secrets(c) := array.concat(
	[name |
		some e in array_field(c, "env")
		name := text_field(object_field(object_field(e, "valueFrom"), "secretKeyRef"), "name")
		name != ""
	],
	[name |
		some e in array_field(c, "envFrom")
		name := text_field(object_field(e, "secretRef"), "name")
		name != ""
	],
)

# METADATA
# title: secrets
# description: The Secret names of the volumes, in volume order, then those of the init, regular and ephemeral containers.
secrets(obj) := array.concat(
	[name |
		some v in volumes(obj)
		some name in volume_secrets(v)
	],
	[name |
		some list in ["initContainers", "containers", "ephemeralContainers"]
		some c in array_field(spec_of(obj), list)
		some name in container_secrets(c)
	],
)

# METADATA
# title: data sources
# description: A claim spec's dataSource and dataSourceRef, as {kind, name}.
data_sources(spec) := [{"kind": text_field(ds, "kind"), "name": text_field(ds, "name")} |
	some key in ["dataSource", "dataSourceRef"]
	ds := object_field(spec, key)
]

# METADATA
# title: clones
# description: The data sources of the generic ephemeral volumes' claim templates.
clones(obj) := dedup([d |
	some v in volumes(obj)
	spec := object_field(object_field(object_field(v, "ephemeral"), "volumeClaimTemplate"), "spec")
	some d in data_sources(spec)
])

# METADATA
# title: pod shape
# description: What the policies read of a pod or pod template (input.pod, input.old_pod, input.template).
pod_shape(obj) := {
	"labels": labels(obj),
	"claims": claims(obj),
	"secrets": secrets(obj),
	"host_paths": host_paths(obj),
	"clones": clones(obj),
	"ephemeral_containers": count(array_field(spec_of(obj), "ephemeralContainers")),
}

# METADATA
# title: controllers
# description: The ownerReferences marked controller, as {kind, name}.
controllers(obj) := [{"kind": text_field(r, "kind"), "name": text_field(r, "name")} |
	some r in array_field(meta(obj), "ownerReferences")
	object.get(r, "controller", false) == true
]

# METADATA
# title: pod
# description: A pod's shape with its controller owner, when it has one with a kind.
pod(obj) := object.union(pod_shape(obj), {"owner": owner}) if {
	owner := controllers(obj)[0]
	owner.kind != ""
} else := pod_shape(obj)

# METADATA
# title: object
# description: The admitted object.
obj := request.object

# METADATA
# title: old object
# description: The object before an UPDATE; undefined otherwise.
old_obj := request.oldObject if {
	request.operation == "UPDATE"
	is_object(request.oldObject)
}

# METADATA
# title: spec
# description: The object's spec, or {} when absent.
spec := spec_of(obj)

# METADATA
# title: object meta
# description: |
#   The metadata the input names the object by. A CONNECT's object is the subresource's
#   options: it names the pod the request names, which pods/proxy spells [scheme:]name[:port].
object_meta := {"name": connect_pod_name(text(object.get(request, "name", "")))} if {
	class == "connect"
} else := meta(obj)

# METADATA
# title: connect pod name
# description: |
#   The pod of a CONNECT's request name, split as the API server's pod proxy splits it
#   (k8s.io/apimachinery's SplitSchemeNamePort); the name as it is when it does not split.
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

# METADATA
# title: namespace
# description: The request's namespace, else the object's own.
namespace := request.namespace if {
	is_string(request.namespace)
	request.namespace != ""
} else := text_field(object_meta, "namespace")

# METADATA
# title: name
# description: The object's name, else the request's, else its generateName followed by "*".
name := n if {
	n := text_field(object_meta, "name")
	n != ""
} else := n if {
	n := text(object.get(request, "name", ""))
	n != ""
} else := concat("", [n, "*"]) if {
	n := text_field(object_meta, "generateName")
	n != ""
} else := ""

# METADATA
# title: template
# description: |
#   A workload's pod template: spec.template, or a CronJob's spec.jobTemplate.spec.template
#   (a jobTemplate.spec without a template means none); undefined when there is none.
template := t if {
	job_spec := object_field(object_field(spec, "jobTemplate"), "spec")
	t := object_field(job_spec, "template")
} else := null if {
	object_field(object_field(spec, "jobTemplate"), "spec")
} else := object_field(spec, "template")

# METADATA
# title: claim templates
# description: A StatefulSet's volumeClaimTemplates.
claim_templates := [vct |
	some vct in array_field(spec, "volumeClaimTemplates")
	is_object(vct)
]

# METADATA
# title: workload template
# description: |
#   The template's shape; a StatefulSet's volumeClaimTemplates add in front the claims
#   of its first pod, <template>-<statefulset>-0, and their data sources.
workload_template := object.union(shape, {
	"claims": array.concat(
		[sprintf("%s-%s-0", [text_field(meta(vct), "name"), text_field(meta(obj), "name")]) | some vct in claim_templates],
		shape.claims,
	),
	"clones": array.concat(
		dedup([d |
			some vct in claim_templates
			some d in data_sources(spec_of(vct))
		]),
		shape.clones,
	),
}) if {
	shape := pod_shape(template)
	count(claim_templates) > 0
} else := pod_shape(template)

# METADATA
# title: session part
# description: The MPCSession's spec as sent (the policies judge it without trusting the schema), and before an UPDATE.
session_part := object.union(
	{"session": s | s := field(obj, "spec")},
	{"old_session": s | s := field(old_obj, "spec")},
)

# METADATA
# title: snapshot claim
# description: The claim a VolumeSnapshot copies, spec.source.persistentVolumeClaimName.
snapshot_claim := text_field(object_field(spec, "source"), "persistentVolumeClaimName") if {
	object_field(spec, "source")
} else := ""

# METADATA
# title: part
# description: |
#   The class-specific part of the policy input. With --inventory=false there is no
#   cluster inventory: a session's inventory is unavailable (session-persistent-available
#   is skipped), and a CONNECT's target pod has no known role (party-access is skipped).
part := object.union({"pod": pod(obj)}, {"old_pod": pod(old) | old := old_obj}) if {
	class == "pod"
} else := {"template": workload_template} if {
	class == "workload"
	is_object(template)
} else := {} if {
	class == "workload"
} else := object.union(session_part, {"inventory": {"available": false, "persistent_ready": 0}}) if {
	class == "session"
} else := {"binding": {"labels": labels(obj)}} if {
	class == "binding"
} else := {"target": {}, "inventory": {"available": false}} if {
	class == "connect"
} else := {"snapshot": {"claim": snapshot_claim}} if {
	request.kind.kind == "VolumeSnapshot"
} else := {"claim": {"clones": dedup(data_sources(spec))}}

# METADATA
# title: user info
# description: The request's userInfo, or {} when absent.
user_info := u if {
	u := object_field(request, "userInfo")
} else := {}

# METADATA
# title: policy input
# description: The input policies/engine builds (policies/README.md).
policy_input := object.union(part, {
	"operation": request.operation,
	"kind": request.kind.kind,
	"subresource": text(object.get(request, "subResource", "")),
	"namespace": namespace,
	"name": name,
	"dry_run": object.get(request, "dryRun", false) == true,
	"user": {
		"username": text_field(user_info, "username"),
		"groups": array_field(user_info, "groups"),
	},
})

# METADATA
# title: violations
# description: data.mpcguard.main.violation for the request, bare; empty when the policies do not look at it.
violations := v if {
	reviewed
	review_input := policy_input
	v := data.mpcguard.main.violation with input as review_input
} else := set()

# METADATA
# title: object text
# description: |
#   How messages name the object: "<Kind> <namespace>/<name>", and for a subresource
#   "Pod <namespace>/<name> (<subresource>)" (the engine's objectText).
object_text := sprintf("Pod %s/%s (%s)", [policy_input.namespace, policy_input.name, policy_input.subresource]) if {
	policy_input.subresource != ""
} else := sprintf("%s %s/%s", [policy_input.kind, policy_input.namespace, policy_input.name])

# METADATA
# title: action
# description: |
#   The enforcement of a policy id: warn or off when configured so, deny otherwise
#   (the engine's Config.action).
action(id) := a if {
	a := data.mpcguard.config.enforcement[id]
	a in {"warn", "off"}
} else := "deny"

# METADATA
# title: message
# description: |
#   A violation's message with the object named in front, "[id] <object>: <msg>".
message(v) := sprintf("[%s] %s: %s", [v.policy, object_text, v.msg])

# METADATA
# title: skipped
# description: The violation is a check that could not run.
skipped(v) if v.skipped == true

# METADATA
# title: denials
# description: The violations of policies in deny mode, checks that could not run excepted.
denials := sort([message(v) |
	some v in violations
	not skipped(v)
	action(v.policy) == "deny"
])

# METADATA
# title: warnings
# description: The violations of policies in warn mode, then the checks that could not run (unless their policy is off).
warnings := array.concat(
	sort([message(v) |
		some v in violations
		not skipped(v)
		action(v.policy) == "warn"
	]),
	sort([message(v) |
		some v in violations
		skipped(v)
		action(v.policy) != "off"
	]),
)

# METADATA
# title: response
# description: The AdmissionResponse, as `mpcguard webhook` answers.
response := object.union(verdict, warnings_field)

# METADATA
# title: verdict
# description: An allow, or a denial with every message joined one per line.
verdict := {
	"uid": request.uid,
	"allowed": true,
	"status": {"code": 200},
} if {
	count(denials) == 0
} else := {
	"uid": request.uid,
	"allowed": false,
	"status": {
		"status": "Failure",
		"code": 403,
		"reason": "Forbidden",
		"message": concat("\n", denials),
	},
}

# METADATA
# title: warnings field
# description: '{"warnings": [...]} when there are any, otherwise {}.'
warnings_field := {"warnings": warnings} if {
	count(warnings) > 0
} else := {}

# METADATA
# title: main
# description: OPA's default decision, served at POST / -- the AdmissionReview answering input.
main := {
	"apiVersion": object.get(input, "apiVersion", "admission.k8s.io/v1"),
	"kind": "AdmissionReview",
	"response": response,
}
