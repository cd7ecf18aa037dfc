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

{{/* An image reference pinned by digest or tag; latest is refused. Takes an image values object. */}}
{{- define "mpc-system.image" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else if and .tag (ne .tag "latest") }}
{{- printf "%s:%s" .repository .tag }}
{{- else }}
{{- fail (printf "image %s: pin a tag other than latest, or a digest" .repository) }}
{{- end }}
{{- end }}

{{/* Pod Security "restricted". */}}
{{- define "mpc-system.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
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

{{/* The persistent pool (exactly one). */}}
{{- define "mpc-system.persistentPool" -}}
{{- $found := list }}
{{- range .Values.pools }}
{{- if eq .role "persistent" }}
{{- $found = append $found . }}
{{- end }}
{{- end }}
{{- if ne (len $found) 1 }}
{{- fail (printf "mpc-system: pools must contain exactly one persistent pool, found %d" (len $found)) }}
{{- end }}
{{- toJson (first $found) }}
{{- end }}

{{/* The cross-field checks that values.schema.json cannot express; renders nothing or fails. */}}
{{- define "mpc-system.check" -}}
{{- $persistent := include "mpc-system.persistentPool" . | fromJson }}
{{- $t := int .Values.threshold.t }}
{{- if gt $t (int .Values.threshold.n) }}
{{- fail (printf "mpc-system: threshold.t (%d) must not exceed threshold.n (%d)" $t (int .Values.threshold.n)) }}
{{- end }}
{{- if lt (int $persistent.replicas) $t }}
{{- fail (printf "mpc-system: pool %s has %d persistent parties, fewer than threshold.t=%d: the strict persistent-only default could never sign" $persistent.name (int $persistent.replicas) $t) }}
{{- end }}
{{- $roleKey := .Values.global.party.roleLabelKey }}
{{- range $k, $v := include "mpc-system.partySelectorLabels" . | fromYaml }}
{{- if has $k (list "app.kubernetes.io/name" "app.kubernetes.io/instance" "mpc.mpcguard.io/pool" $roleKey) }}
{{- fail (printf "mpc-system: global.party.selector must not use the label %s, which the chart sets itself" $k) }}
{{- end }}
{{- end }}
{{- $names := list }}
{{- range $pool := .Values.pools }}
{{- if has $pool.name $names }}
{{- fail (printf "mpc-system: pool name %s is used twice" $pool.name) }}
{{- end }}
{{- $names = append $names $pool.name }}
{{- $storage := $pool.shareStorage | default dict }}
{{- if eq $pool.role "persistent" }}
{{- if eq (len (compact (list $storage.volumeClaim $storage.databaseSecret))) 1 | not }}
{{- fail (printf "mpc-system: persistent pool %s needs exactly one of shareStorage.volumeClaim or shareStorage.databaseSecret" $pool.name) }}
{{- end }}
{{- else if or $storage.volumeClaim $storage.databaseSecret }}
{{- fail (printf "mpc-system: %s pool %s must not have share storage" $pool.role $pool.name) }}
{{- end }}
{{- end }}
{{- if .Values.mpcguard.enabled }}
{{- include "mpc-system.checkWebhook" (dict "root" $ "persistent" $persistent) }}
{{- end }}
{{- end }}

{{/* What the mpcguard dependency is told about this chart must be exactly what the chart renders; renders
nothing or fails. Takes (dict "root" $ "persistent" $persistentPool).

- shareStorage: the persistent pool's database Secret is among secretNames, and claimPrefixes are exactly
  <volumeClaimTemplate>-<statefulset>- of its volume claim (the policies match claims <prefix><ordinal> only, so
  any other prefix would guard nothing while looking as if it did).
- persistentWorkloads are exactly the persistent pool's StatefulSet.
- threshold.t is this chart's threshold.t: the webhook refuses to scale the persistent pool below it.
- Every namespace the coordinator discovers parties in is checked by the webhook. The render refuses a
  difference instead of widening the webhook's namespaces itself: a dependency cannot read its parent's values,
  so deriving would mean a second copy of the list in global values; the webhook's namespaces are its security
  boundary and its RBAC (a Role per namespace), which should be written where they are reviewed, not grown by a
  change to discovery; and the generator's spec validation states the same rule with the same words, so the spec
  and the values fail alike. */}}
{{- define "mpc-system.checkWebhook" -}}
{{- $root := .root }}
{{- $persistent := .persistent }}
{{- $guard := $root.Values.mpcguard }}
{{- $statefulSet := include "mpc-system.poolName" (dict "root" $root "pool" $persistent) }}
{{- $tplList := dict }}
{{- range $key, $list := dict "secretNames" $guard.shareStorage.secretNames "claimPrefixes" $guard.shareStorage.claimPrefixes "persistentWorkloads" $guard.persistentWorkloads }}
{{- $out := list }}
{{- range $list }}
{{- $out = append $out (tpl . $root) }}
{{- end }}
{{- $_ := set $tplList $key $out }}
{{- end }}
{{- $wantPrefixes := list }}
{{- with $persistent.shareStorage.volumeClaim }}
{{- $wantPrefixes = list (printf "%s-%s-" .name $statefulSet) }}
{{- end }}
{{- if ne (uniq $tplList.claimPrefixes | toJson) ($wantPrefixes | toJson) }}
{{- fail (printf "mpc-system: mpcguard.shareStorage.claimPrefixes must be exactly %s, <volumeClaimTemplate>-<statefulset>- of the persistent pool %s (the policies match the claims <prefix><ordinal>), not %s" ($wantPrefixes | toJson) $persistent.name ($tplList.claimPrefixes | toJson)) }}
{{- end }}
{{- with $persistent.shareStorage.databaseSecret }}
{{- if not (has .name $tplList.secretNames) }}
{{- fail (printf "mpc-system: mpcguard.shareStorage.secretNames must contain %q so that delegates cannot mount the shares" .name) }}
{{- end }}
{{- end }}
{{- if ne (uniq $tplList.persistentWorkloads | toJson) (list $statefulSet | toJson) }}
{{- fail (printf "mpc-system: mpcguard.persistentWorkloads must be exactly [%q], the StatefulSet of the persistent pool %s, not %s" $statefulSet $persistent.name ($tplList.persistentWorkloads | toJson)) }}
{{- end }}
{{- if ne (int $guard.threshold.t) (int $root.Values.threshold.t) }}
{{- fail (printf "mpc-system: mpcguard.threshold.t must be threshold.t (%d), the t below which the webhook refuses to scale the persistent pool, not %d" (int $root.Values.threshold.t) (int $guard.threshold.t)) }}
{{- end }}
{{- $checked := prepend $guard.webhook.namespaces $root.Release.Namespace }}
{{- $missing := list }}
{{- range $root.Values.coordinator.discovery.namespaces }}
{{- if not (has . $checked) }}
{{- $missing = append $missing . }}
{{- end }}
{{- end }}
{{- if $missing }}
{{- fail (printf "mpc-system: coordinator.discovery.namespaces names namespaces the webhook does not check: %s; add them to mpcguard.webhook.namespaces, or the coordinator discovers parties there that no policy checked" (join ", " $missing)) }}
{{- end }}
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

{{/* The party container's probes, ports and security. Takes (dict "root" $ "pool" $pool). */}}
{{- define "mpc-system.partyContainerCommon" -}}
image: {{ include "mpc-system.image" .root.Values.parties.image | quote }}
imagePullPolicy: {{ .root.Values.parties.image.pullPolicy }}
ports:
  - name: grpc
    containerPort: {{ .root.Values.parties.port }}
    protocol: TCP
  - name: http
    containerPort: {{ .root.Values.parties.healthPort }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /health
    port: http
readinessProbe:
  httpGet:
    path: /health
    port: http
resources:
  {{- toYaml .pool.resources | nindent 2 }}
securityContext:
  {{- include "mpc-system.containerSecurityContext" .root | nindent 2 }}
{{- end }}

{{- define "mpc-system.partyEnv" -}}
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
