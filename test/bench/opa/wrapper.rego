# METADATA
# title: mpcguard on OPA's own server
# description: |
#   The classic OPA admission set-up: OPA's default decision, data.system.main
#   (served at POST / with the AdmissionReview as input), answers an AdmissionReview.
#   It builds the policy input of policies/README.md from input.request exactly as
#   policies/engine does for `mpcguard webhook --inventory=false`, evaluates
#   data.mpcguard.main.decision with that input, and answers as the webhook does:
#   allowed, the denials joined one per line, warn and skipped messages as warnings.
package system

# METADATA
# title: reviewed kinds
# description: The group/version/kind of every object the policies look at, and which part of the input it fills.
reviewed_kinds := {
	"/v1/Pod": "pod",
	"apps/v1/Deployment": "workload",
	"apps/v1/StatefulSet": "workload",
	"apps/v1/ReplicaSet": "workload",
	"apps/v1/DaemonSet": "workload",
	"batch/v1/Job": "workload",
	"batch/v1/CronJob": "workload",
	"mpc.mpcguard.io/v1alpha1/MPCSession": "session",
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
# description: The policies look at this kind and operation (CREATE or UPDATE); everything else is allowed untouched.
reviewed if {
	class
	request.operation in {"CREATE", "UPDATE"}
}

# METADATA
# title: text
# description: x when it is a string, otherwise "" (absent and null read as empty, as in the Go adapter).
text(x) := x if {
	is_string(x)
} else := ""

# METADATA
# title: number
# description: x when it is a number, otherwise 0.
number(x) := x if {
	is_number(x)
} else := 0

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
# title: labels
# description: The metadata labels of an object or pod template, {} when absent.
labels(obj) := l if {
	l := object_field(meta(obj), "labels")
} else := {}

# METADATA
# title: volumes
# description: The spec.volumes of a pod or pod template.
volumes(obj) := array_field(s, "volumes") if {
	s := object_field(obj, "spec")
} else := []

# METADATA
# title: claims
# description: The PersistentVolumeClaim names of the volumes, in volume order.
claims(obj) := [text_field(pvc, "claimName") |
	some v in volumes(obj)
	pvc := object_field(v, "persistentVolumeClaim")
]

# METADATA
# title: volume secrets
# description: The Secret names of one volume (a secret volume's, then its projected secret sources').
volume_secrets(v) := array.concat(
	[text_field(s, "secretName") | s := object_field(v, "secret")],
	[text_field(s, "name") |
		some src in array_field(object_field(v, "projected"), "sources")
		s := object_field(src, "secret")
	],
)

# METADATA
# title: secrets
# description: The Secret names of secret volumes and projected secret sources, in volume order.
secrets(obj) := [name |
	some v in volumes(obj)
	some name in volume_secrets(v)
]

# METADATA
# title: pod shape
# description: What the policies read of a pod or pod template (input.pod, input.template).
pod_shape(obj, extra_claims) := {
	"labels": labels(obj),
	"claims": array.concat(extra_claims, claims(obj)),
	"secrets": secrets(obj),
}

# METADATA
# title: object
# description: The admitted object.
obj := request.object

# METADATA
# title: spec
# description: The object's spec, or {} when absent.
spec := s if {
	s := object_field(obj, "spec")
} else := {}

# METADATA
# title: namespace
# description: The request's namespace, else the object's own.
namespace := request.namespace if {
	is_string(request.namespace)
	request.namespace != ""
} else := text_field(meta(obj), "namespace")

# METADATA
# title: name
# description: The object's name, else the request's, else its generateName followed by "*".
name := n if {
	n := text_field(meta(obj), "name")
	n != ""
} else := n if {
	n := text(object.get(request, "name", ""))
	n != ""
} else := concat("", [n, "*"]) if {
	n := text_field(meta(obj), "generateName")
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
# title: claim template names
# description: The claims of a StatefulSet's first pod from its volumeClaimTemplates, <template>-<statefulset>-0.
claim_template_names := [sprintf("%s-%s-0", [text_field(meta(vct), "name"), text_field(meta(obj), "name")]) |
	some vct in array_field(spec, "volumeClaimTemplates")
]

# METADATA
# title: session spec
# description: The MPCSession's spec (type, threshold, composition only when the spec has one).
session := object.union(
	{
		"type": text_field(spec, "type"),
		"threshold": {
			"t": number(object.get(spec, ["threshold", "t"], 0)),
			"n": number(object.get(spec, ["threshold", "n"], 0)),
		},
	},
	composition,
)

# METADATA
# title: composition
# description: '{"composition": {...}} when the spec has a composition, otherwise {}.'
composition := {"composition": {role: number(object.get(c, role, 0)) |
	some role in ["persistent", "delegate", "temporary"]
}} if {
	c := object_field(spec, "composition")
} else := {}

# METADATA
# title: part
# description: The kind-specific part of the policy input.
part := {"pod": pod_shape(obj, [])} if {
	class == "pod"
	request.operation != "UPDATE"
} else := {"pod": pod_shape(obj, []), "old_pod": {"labels": labels(request.oldObject)}} if {
	class == "pod"
	is_object(request.oldObject)
} else := {"pod": pod_shape(obj, [])} if {
	class == "pod"
} else := {"template": pod_shape(template, claim_template_names)} if {
	class == "workload"
	is_object(template)
} else := {} if {
	class == "workload"
} else := {
	"session": session,
	# --inventory=false: no cluster inventory, so session-persistent-available is skipped.
	"inventory": {"available": false, "persistent_ready": 0},
} if {
	class == "session"
}

# METADATA
# title: policy input
# description: The input of policies/README.md.
policy_input := object.union(part, {
	"operation": request.operation,
	"kind": request.kind.kind,
	"namespace": namespace,
	"name": name,
	"dry_run": request.dryRun == true,
})

# METADATA
# title: decision
# description: data.mpcguard.main.decision for the request, or an empty one when the policies do not look at it.
decision := d if {
	reviewed
	review_input := policy_input
	d := data.mpcguard.main.decision with input as review_input
} else := {"deny": [], "warn": [], "skipped": []}

# METADATA
# title: warnings
# description: The warn-mode violations, then the skipped checks.
warnings := array.concat([v.msg | some v in decision.warn], [v.msg | some v in decision.skipped])

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
	count(decision.deny) == 0
} else := {
	"uid": request.uid,
	"allowed": false,
	"status": {
		"status": "Failure",
		"code": 403,
		"reason": "Forbidden",
		"message": concat("\n", [v.msg | some v in decision.deny]),
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
