{{/* The matchConditions of the webhook entries (CEL, GA since Kubernetes 1.30). A request is sent to the
webhook only when every condition of its entry is true; an error in a condition follows failurePolicy, so every
expression below is written to be defined for every request its entry receives:

- request fields that are empty are absent (subResource on the main resource, name on a CREATE with
  generateName), so they are read through has();
- object and oldObject are read through has(): oldObject is null on CREATE, and on CONNECT the object is the
  subresource's options (PodExecOptions, ...), which have no metadata;
- a condition starts with the test that tells which requests it is about (the subresource, the operation), so
  CEL's && and || decide the others without reading fields they do not have.

pods.mpcguard.io: no objectSelector. The policies check pods that carry the role label without the party
selector (a relabelling in steps: remove the party label, change the role, put it back) and non-party pods that
mount share storage, so every pod in a checked namespace is sent, but for:

- pods/status updates that leave metadata.labels as they were: the kubelet's status updates never depend on the
  webhook, and a status update that changes labels (the one thing the policies look at there) is still checked;
- Bindings that set neither the role label nor a party selector label, which is every Binding
  party-binding-labels could deny: the scheduler binds the webhook's own pods while the webhook is down;
- the webhook's own pods (below).

storage.mpcguard.io and workloads.mpcguard.io send only the DELETEs share-deletion judges: of the claims named
<prefix><ordinal> (the policy checks the ordinal), of the share Secrets, and of the persistent StatefulSets (any
StatefulSet when none is named: the policy then reads its template); and only the scales of the named persistent
StatefulSets. Deleting anything else in a checked namespace never waits for the webhook, so an uninstall that has
already removed the webhook's Service is not blocked by it.

The webhook's own objects. The exclusion exists only so that the webhook can restart itself under failurePolicy
Fail (with Ignore, or a webhook outside the cluster, nothing is excluded). It used to be the objectSelector
app.kubernetes.io/component NotIn [admission-webhook], which exempted any workload carrying that label: an
attacker only had to add it. It now matches exactly:

- the webhook's Deployment: its name in the release namespace. Whoever can change that Deployment can change the
  webhook itself (its image, its arguments), so checking it would protect nothing;
- its ReplicaSets: created or updated by the Deployment controller, in the release namespace, named
  <deployment>-..., with one owner, that Deployment, as controller;
- its pods: created by the ReplicaSet controller, in the release namespace, with one owner, a ReplicaSet named
  <deployment>-... as controller, carrying neither the role label nor the party selector's labels.

Labels, names and owner references can be written by anyone who may create the object; the identity of the
controller that creates it cannot, so a look-alike created by a user is checked like any other object. */}}

{{/* The identities of the controllers that create the webhook's ReplicaSets and pods: their ServiceAccounts when
kube-controller-manager runs with --use-service-account-credentials (kubeadm's default and managed clusters'),
kube-controller-manager's own identity otherwise. */}}
{{- define "mpcguard.ownControllers" -}}
{{- dict
    "replicaSets" (list "system:serviceaccount:kube-system:deployment-controller" "system:kube-controller-manager")
    "pods" (list "system:serviceaccount:kube-system:replicaset-controller" "system:kube-controller-manager")
  | toJson }}
{{- end }}

{{/* Whether the webhook's own objects are excluded ("true" or empty): only for a webhook running in the cluster
under failurePolicy Fail, the one case in which it would need itself to restart. */}}
{{- define "mpcguard.excludesOwnObjects" -}}
{{- if and (not .Values.webhook.url) (eq .Values.webhook.failurePolicy "Fail") }}true{{ end }}
{{- end }}

{{/* The request's subresource, "" for the main resource (where the field is absent). */}}
{{- define "mpcguard.cel.subResource" -}}
(has(request.subResource) ? request.subResource : "")
{{- end }}

{{/* True when the labels map (a CEL expression, known to be present) carries neither the role label nor the
party selector's labels. */}}
{{- define "mpcguard.cel.noPartyLabels" -}}
{{- $labels := .labels }}
{{- $selector := include "mpcguard.partySelectorLabels" .root | fromYaml }}
{{- $pairs := list }}
{{- range $key := keys $selector | sortAlpha }}
{{- $pairs = append $pairs (printf "%s in %s && %s[%s] == %s" (toJson $key) $labels $labels (toJson $key) (toJson (get $selector $key))) }}
{{- end }}
{{- printf "!(%s in %s) && !(%s)" (toJson .root.Values.global.party.roleLabelKey) $labels (join " && " $pairs) }}
{{- end }}

{{/* The matchConditions of one webhook entry, as a YAML list, or nothing. Takes (dict "root" $ "webhook" name). */}}
{{- define "mpcguard.matchConditions" -}}
{{- $root := .root }}
{{- $ns := $root.Release.Namespace | toJson }}
{{- $deployment := include "mpcguard.webhookName" $root }}
{{- $own := include "mpcguard.ownControllers" $root | fromJson }}
{{- $sub := include "mpcguard.cel.subResource" $root }}
{{- if eq .webhook "pods.mpcguard.io" }}
{{- $selector := include "mpcguard.partySelectorLabels" $root | fromYaml }}
{{- $partyKeys := prepend (keys $selector | sortAlpha) $root.Values.global.party.roleLabelKey | uniq }}
- name: status-updates-that-change-labels
  expression: |-
    {{ $sub }} != "status" ||
    (has(object.metadata.labels) ? object.metadata.labels : {}) != (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})
- name: bindings-that-set-party-labels
  expression: |-
    !({{ $sub }} == "binding" || request.resource.resource == "bindings") ||
    has(object.metadata.labels) && {{ toJson $partyKeys }}.exists(k, k in object.metadata.labels)
{{- if include "mpcguard.excludesOwnObjects" $root }}
- name: not-the-webhooks-own-pods
  expression: |-
    !(request.operation == "CREATE" && {{ $sub }} == "" && request.namespace == {{ $ns }} &&
      has(request.userInfo.username) && request.userInfo.username in {{ toJson $own.pods }} &&
      has(object.metadata.ownerReferences) && size(object.metadata.ownerReferences) == 1 &&
      object.metadata.ownerReferences.all(o, o.apiVersion == "apps/v1" && o.kind == "ReplicaSet" &&
        o.name.startsWith({{ printf "%s-" $deployment | toJson }}) && has(o.controller) && o.controller == true) &&
      (!has(object.metadata.labels) || {{ include "mpcguard.cel.noPartyLabels" (dict "root" $root "labels" "object.metadata.labels") }}))
{{- end }}
{{- else if eq .webhook "storage.mpcguard.io" }}
{{- $claimPrefixes := include "mpcguard.tplList" (dict "list" $root.Values.shareStorage.claimPrefixes "root" $root) }}
{{- $secretNames := include "mpcguard.tplList" (dict "list" $root.Values.shareStorage.secretNames "root" $root) }}
- name: deletions-of-share-storage
  expression: |-
    request.operation != "DELETE" ||
    request.resource.resource == "persistentvolumeclaims" && has(request.name) && {{ $claimPrefixes }}.exists(p, request.name.startsWith(p)) ||
    request.resource.resource == "secrets" && has(request.name) && request.name in {{ $secretNames }}
{{- else if eq .webhook "workloads.mpcguard.io" }}
{{- $persistent := include "mpcguard.tplList" (dict "list" $root.Values.persistentWorkloads "root" $root) }}
- name: scales-and-deletions-of-the-persistent-pool
  expression: |-
    !(request.resource.resource == "statefulsets" && ({{ $sub }} == "scale" || request.operation == "DELETE")) ||
    has(request.name) && request.name in {{ $persistent }} ||
    {{ $sub }} == "" && size({{ $persistent }}) == 0
{{- if include "mpcguard.excludesOwnObjects" $root }}
- name: not-the-webhooks-own-deployment-or-replicasets
  expression: |-
    !(request.namespace == {{ $ns }} && request.resource.group == "apps" && {{ $sub }} == "" && (
      request.resource.resource == "deployments" && has(request.name) && request.name == {{ toJson $deployment }} ||
      request.resource.resource == "replicasets" &&
        has(request.userInfo.username) && request.userInfo.username in {{ toJson $own.replicaSets }} &&
        has(object.metadata.name) && object.metadata.name.startsWith({{ printf "%s-" $deployment | toJson }}) &&
        has(object.metadata.ownerReferences) && size(object.metadata.ownerReferences) == 1 &&
        object.metadata.ownerReferences.all(o, o.apiVersion == "apps/v1" && o.kind == "Deployment" &&
          o.name == {{ toJson $deployment }} && has(o.controller) && o.controller == true)))
{{- end }}
{{- end }}
{{- end }}
