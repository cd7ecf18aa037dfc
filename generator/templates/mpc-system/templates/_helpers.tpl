{{/* Names, labels and checks of the mpc-system chart. Every name is prefixed "mpc-system." because named
templates are global across a chart and its dependencies. */}}

{{- define "mpc-system.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mpc-system.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mpc-system.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object, but for app.kubernetes.io/component. */}}
{{- define "mpc-system.commonLabels" -}}
helm.sh/chart: {{ include "mpc-system.chart" . }}
app.kubernetes.io/name: {{ include "mpc-system.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mpc-system
{{- end }}

{{- define "mpc-system.coordinatorName" -}}
{{- printf "%s-coordinator" (include "mpc-system.fullname" . | trunc 51 | trimSuffix "-") }}
{{- end }}

{{- define "mpc-system.coordinatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "mpc-system.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: coordinator
{{- end }}

{{- define "mpc-system.coordinatorLabels" -}}
{{ include "mpc-system.commonLabels" . }}
app.kubernetes.io/component: coordinator
{{- end }}

{{- define "mpc-system.serviceAccountName" -}}
{{- if .Values.coordinator.serviceAccount.create }}
{{- default (include "mpc-system.coordinatorName" .) .Values.coordinator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.coordinator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The namespaces the coordinator discovers parties in, as JSON: the release namespace first. */}}
{{- define "mpc-system.discoveryNamespaces" -}}
{{- prepend .Values.coordinator.discovery.namespaces .Release.Namespace | uniq | toJson }}
{{- end }}

{{/* A pool's workload and Service name: <release>-<pool>; the pods of a persistent pool are the party ids
<release>-<pool>-<ordinal>. Takes (dict "root" $ "pool" $pool). */}}
{{- define "mpc-system.poolName" -}}
{{- printf "%s-%s" .root.Release.Name .pool.name | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select exactly one pool's pods. Takes (dict "root" $ "pool" $pool). */}}
{{- define "mpc-system.poolSelectorLabels" -}}
app.kubernetes.io/name: {{ include "mpc-system.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
mpc.mpcguard.io/pool: {{ .pool.name }}
{{- end }}

{{/* The party selector as a label map (YAML). global.party.selector is k=v[,k=v]. */}}
{{- define "mpc-system.partySelectorLabels" -}}
{{- $labels := dict }}
{{- range $pair := splitList "," .Values.global.party.selector }}
{{- $kv := splitn "=" 2 $pair }}
{{- $_ := set $labels (trim $kv._0) (trim $kv._1) }}
{{- end }}
{{- toYaml $labels }}
{{- end }}

{{/* The labels that select every party pod of the release. */}}
{{- define "mpc-system.partiesSelectorLabels" -}}
{{- $labels := include "mpc-system.partySelectorLabels" . | fromYaml }}
{{- $_ := set $labels "app.kubernetes.io/instance" .Release.Name }}
{{- toYaml $labels }}
{{- end }}

{{/* A party pod's labels: the common labels, its pool, the party selector and its role. Takes (dict "root" $
"pool" $pool). */}}
{{- define "mpc-system.partyLabels" -}}
{{- $labels := include "mpc-system.commonLabels" .root | fromYaml }}
{{- $labels = merge (include "mpc-system.partySelectorLabels" .root | fromYaml) $labels }}
{{- $_ := set $labels "mpc.mpcguard.io/pool" .pool.name }}
{{- $_ = set $labels .root.Values.global.party.roleLabelKey .pool.role }}
{{- toYaml $labels }}
{{- end }}

{{/* The persistent pool (exactly one), with its name, as JSON. */}}
{{- define "mpc-system.persistentPool" -}}
{{- $found := list }}
{{- range $name, $pool := .Values.pools }}
{{- if eq $pool.role "persistent" }}
{{- $found = append $found (merge (dict "name" $name) $pool) }}
{{- end }}
{{- end }}
{{- if ne (len $found) 1 }}
{{- fail (printf "mpc-system: pools: must contain exactly one pool of role persistent, found %d" (len $found)) }}
{{- end }}
{{- toJson (first $found) }}
{{- end }}

{{/* Affinity of a pool's pods. Takes (dict "root" $ "pool" $pool). */}}
{{- define "mpc-system.affinity" -}}
{{- $mode := .root.Values.placement.delegate.podAntiAffinity }}
{{- if eq .pool.role "persistent" }}
{{- $mode = .root.Values.placement.persistent.podAntiAffinity }}
{{- end }}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "mpc-system.poolSelectorLabels" . | fromYaml)) }}
{{- if eq $mode "required" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    {{- list $term | toYaml | nindent 4 }}
{{- else if eq $mode "preferred" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    {{- list (dict "weight" 100 "podAffinityTerm" $term) | toYaml | nindent 4 }}
{{- end }}
{{- end }}

{{/* A party pod's volumes and its container's mounts: the scratch /tmp and the pool's extra ones. Takes (dict
"root" $ "pool" $pool). */}}
{{- define "mpc-system.partyVolumes" -}}
- name: tmp
  emptyDir: {}
{{- with .pool.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "mpc-system.partyVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- with .pool.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The party container's probes, ports and security. Takes (dict "root" $ "pool" $pool). */}}
{{- define "mpc-system.partyContainerCommon" -}}
image: {{ include "mpc-system.image" (dict "root" .root "image" .root.Values.parties.image "path" "parties.image") | quote }}
imagePullPolicy: {{ .root.Values.parties.image.pullPolicy }}
ports:
  - name: grpc
    containerPort: {{ .root.Values.parties.port }}
    protocol: TCP
  - name: http
    containerPort: {{ .root.Values.parties.healthPort }}
    protocol: TCP
{{ include "mpc-system.probes" .root.Values.parties.probes | trim }}
resources:
  {{- toYaml .pool.resources | nindent 2 }}
securityContext:
  {{- include "mpc-system.containerSecurityContext" .root | nindent 2 }}
{{- end }}

{{/* A party container's environment: extraEnv first, so that the chart's variables win. Takes (dict "root" $
"pool" $pool). */}}
{{- define "mpc-system.partyEnv" -}}
{{- with .pool.extraEnv }}
{{ toYaml . }}
{{- end }}
- name: PARTY_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: PARTY_ROLE
  value: {{ .pool.role | quote }}
- name: K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: MPC_PARTY_GRPC_PORT
  value: {{ .root.Values.parties.port | quote }}
{{- end }}

{{/* A container's probes, timed by a ProbesValues (coordinator.probes, parties.probes) on its port named http.
Startup and readiness ask /health; liveness only connects, which the kernel answers while the process is
alive and listening however busy it is: a party in the middle of a session is taken out of its Services when it
stops answering /health, and restarted only after liveness.failureThreshold x liveness.periodSeconds without
even a connect. */}}
{{- define "mpc-system.probes" -}}
{{- $handlers := dict "startupProbe" (dict "httpGet" (dict "path" "/health" "port" "http" "scheme" "HTTP")) "livenessProbe" (dict "tcpSocket" (dict "port" "http")) "readinessProbe" (dict "httpGet" (dict "path" "/health" "port" "http" "scheme" "HTTP")) }}
{{- $timing := dict "startupProbe" .startup "livenessProbe" .liveness "readinessProbe" .readiness }}
{{- range $probe := list "startupProbe" "livenessProbe" "readinessProbe" }}
{{- $t := get $timing $probe }}
{{ $probe }}:
  {{- toYaml (get $handlers $probe) | nindent 2 }}
  periodSeconds: {{ int $t.periodSeconds }}
  timeoutSeconds: {{ int $t.timeoutSeconds }}
  failureThreshold: {{ int $t.failureThreshold }}
{{- end }}
{{- end }}

{{/* NetworkPolicy peers. A peer with a podSelector alone selects pods of the policy's own namespace; one in
another namespace adds a namespaceSelector on kubernetes.io/metadata.name, which the API server sets on every
namespace. Each takes (dict "root" $ "in" <the policy's namespace>) and returns a YAML list. */}}

{{/* The party pods the coordinator discovers: this release's in the release namespace, and whatever matches
the party selector in each other discovery namespace (the coordinator takes them into sessions too). */}}
{{- define "mpc-system.partyPeers" -}}
{{- $root := .root }}
{{- $peers := list }}
{{- range $ns := include "mpc-system.discoveryNamespaces" $root | fromJsonArray }}
{{- $labels := include "mpc-system.partySelectorLabels" $root | fromYaml }}
{{- if eq $ns $root.Release.Namespace }}
{{- $labels = include "mpc-system.partiesSelectorLabels" $root | fromYaml }}
{{- end }}
{{- $peer := dict "podSelector" (dict "matchLabels" $labels) }}
{{- if ne $ns $.in }}
{{- $_ := set $peer "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" $ns)) }}
{{- end }}
{{- $peers = append $peers $peer }}
{{- end }}
{{- toYaml $peers }}
{{- end }}

{{/* The coordinator's pods. */}}
{{- define "mpc-system.coordinatorPeers" -}}
{{- $peer := dict "podSelector" (dict "matchLabels" (include "mpc-system.coordinatorSelectorLabels" .root | fromYaml)) }}
{{- if ne .root.Release.Namespace .in }}
{{- $_ := set $peer "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .root.Release.Namespace)) }}
{{- end }}
{{- toYaml (list $peer) }}
{{- end }}

{{/* The egress rule to cluster DNS (networkPolicy.dns), as a YAML list of one rule. */}}
{{- define "mpc-system.dnsEgress" -}}
{{- $dns := .Values.networkPolicy.dns }}
{{- $rule := dict "ports" (list (dict "port" (int $dns.port) "protocol" "UDP") (dict "port" (int $dns.port) "protocol" "TCP")) }}
{{- with $dns.to }}
{{- $_ := set $rule "to" . }}
{{- end }}
{{- toYaml (list $rule) }}
{{- end }}
