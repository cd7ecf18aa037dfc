{{/* What every workload of the chart shares: image references, security contexts and the extension points
operators set on pods (values type PodValues). One source for both charts: mpcguard generate writes it into
each as templates/_pod.tpl, its names prefixed with the chart's, because named templates are global across a
chart and its dependencies. */}}

{{/* An image reference: [<registry>/]<repository>@<digest> or :<tag>, the registry global.imageRegistry or else
the image's own; latest is refused. Takes (dict "root" $ "image" $image "path" "<its values path>"). */}}
{{- define "mpc-system.image" -}}
{{- $img := .image }}
{{- $registry := default $img.registry ((.root.Values.global | default dict).imageRegistry) }}
{{- $repo := $img.repository }}
{{- if $registry }}
{{- $repo = printf "%s/%s" $registry $img.repository }}
{{- end }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else if and $img.tag (ne $img.tag "latest") }}
{{- printf "%s:%s" $repo $img.tag }}
{{- else }}
{{- fail (printf "mpc-system: %s.tag: image %s: pin a tag other than latest, or a digest" .path $repo) }}
{{- end }}
{{- end }}

{{/* Pod Security "restricted"; the identities from podSecurityContext, never root. Takes a workload's values. */}}
{{- define "mpc-system.podSecurityContext" -}}
{{- $sc := .podSecurityContext | default dict }}
runAsNonRoot: true
runAsUser: {{ int ($sc.runAsUser | default 65532) }}
runAsGroup: {{ int ($sc.runAsGroup | default 65532) }}
fsGroup: {{ int ($sc.fsGroup | default 65532) }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "mpc-system.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* A pod's metadata: the chart's labels (which win) over podLabels, and podAnnotations. Takes (dict "labels"
<the chart's labels, YAML> "values" <the workload's values>). */}}
{{- define "mpc-system.podMetadata" -}}
{{- $labels := merge (.labels | fromYaml) (.values.podLabels | default dict) }}
labels:
  {{- toYaml $labels | nindent 2 }}
{{- with .values.podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The scheduling and pull settings of a pod: imagePullSecrets (global, the chart's, the workload's),
nodeSelector, tolerations, priorityClassName, affinity (the chart's, with the workload's nodeAffinity and
podAffinity and its podAntiAffinity terms added) and topologySpreadConstraints (the chart's and the
workload's). Takes (dict "root" $ "values" <the workload's values> "chartPullSecrets" <list> "affinity" <the
chart's affinity, a dict> "spread" <the chart's constraints, a list>). */}}
{{- define "mpc-system.podScheduling" -}}
{{- $v := .values }}
{{- $secrets := concat ((.root.Values.global | default dict).imagePullSecrets | default list) (.chartPullSecrets | default list) ($v.imagePullSecrets | default list) | uniq }}
{{- with $secrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $v.runtimeClassName }}
runtimeClassName: {{ . }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $affinity := deepCopy (.affinity | default dict) }}
{{- range $kind, $given := $v.affinity | default dict }}
{{- if eq $kind "podAntiAffinity" }}
{{- $anti := get $affinity "podAntiAffinity" | default dict }}
{{- range $when, $terms := $given }}
{{- $_ := set $anti $when (concat (get $anti $when | default list) $terms) }}
{{- end }}
{{- $_ := set $affinity "podAntiAffinity" $anti }}
{{- else }}
{{- $_ := set $affinity $kind $given }}
{{- end }}
{{- end }}
{{- with $affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with concat (.spread | default list) ($v.topologySpreadConstraints | default list) }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The problems of a workload's pod values, one line "mpc-system: <values path>: <problem>" each (the validation
template fails with all of them). podLabels must not carry the role label or a party selector label: it would
make the pod a party, or change a party's role. Takes (dict "root" $ "values" <the workload's values> "path"
"<its values path>", empty at the top). */}}
{{- define "mpc-system.podValuesErrors" -}}
{{- $party := .root.Values.global.party }}
{{- $forbidden := list $party.roleLabelKey }}
{{- range $pair := splitList "," $party.selector }}
{{- $kv := splitn "=" 2 $pair }}
{{- $forbidden = append $forbidden (trim $kv._0) }}
{{- end }}
{{- $at := ternary (printf "%s." .path) "" (ne .path "") }}
{{- range $k, $_ := .values.podLabels | default dict }}
{{- if has $k $forbidden }}
{{ printf "mpc-system: %spodLabels: must not set %s, the role label or a party selector label (the chart sets them)" $at $k }}
{{- end }}
{{- end }}
{{- end }}
