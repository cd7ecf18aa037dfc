{{/* Names, labels and shared snippets of the mpcguard chart. Every name is prefixed "mpcguard." because named
templates are global across a parent chart and its dependencies. */}}

{{- define "mpcguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mpcguard.fullname" -}}
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

{{- define "mpcguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The webhook's objects, named <fullname>-webhook (at most 55 characters). */}}
{{- define "mpcguard.webhookName" -}}
{{- printf "%s-webhook" (include "mpcguard.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "mpcguard.tlsSecretName" -}}
{{- printf "%s-tls" (include "mpcguard.webhookName" .) }}
{{- end }}

{{- define "mpcguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mpcguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: admission-webhook
{{- end }}

{{/* Labels of every object, but for app.kubernetes.io/component. */}}
{{- define "mpcguard.commonLabels" -}}
helm.sh/chart: {{ include "mpcguard.chart" . }}
app.kubernetes.io/name: {{ include "mpcguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mpcguard
{{- end }}

{{- define "mpcguard.labels" -}}
{{ include "mpcguard.commonLabels" . }}
app.kubernetes.io/component: admission-webhook
{{- end }}

{{- define "mpcguard.serviceAccountName" -}}
{{- if .Values.webhook.serviceAccount.create }}
{{- default (include "mpcguard.webhookName" .) .Values.webhook.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.webhook.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The party selector as a label map (YAML). global.party.selector is k=v[,k=v]. */}}
{{- define "mpcguard.partySelectorLabels" -}}
{{- $labels := dict }}
{{- range $pair := splitList "," .Values.global.party.selector }}
{{- $kv := splitn "=" 2 $pair }}
{{- $_ := set $labels (trim $kv._0) (trim $kv._1) }}
{{- end }}
{{- toYaml $labels }}
{{- end }}

{{/* The party selector as text: k=v pairs, keys sorted, comma-joined (the native policies' messages). */}}
{{- define "mpcguard.partySelectorText" -}}
{{- $pairs := list }}
{{- range $k, $v := include "mpcguard.partySelectorLabels" . | fromYaml }}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/* The namespaces the webhook checks, as JSON: the release namespace and webhook.namespaces, never
kube-system. */}}
{{- define "mpcguard.namespaces" -}}
{{- $namespaces := prepend .Values.webhook.namespaces .Release.Namespace | uniq }}
{{- if has "kube-system" $namespaces }}
{{- fail "mpcguard: webhook.namespaces: the webhook never checks kube-system: remove it from webhook.namespaces and install into another namespace" }}
{{- end }}
{{- toJson $namespaces }}
{{- end }}

{{/* Fails when the party selector would match the webhook's own pods: the webhook must never need itself to
start. */}}
{{- define "mpcguard.checkSelector" -}}
{{- $own := include "mpcguard.selectorLabels" . | fromYaml }}
{{- $party := include "mpcguard.partySelectorLabels" . | fromYaml }}
{{- $matches := true }}
{{- range $k, $v := $party }}
{{- if ne (get $own $k) $v }}
{{- $matches = false }}
{{- end }}
{{- end }}
{{- if $matches }}
{{- fail "mpcguard: global.party.selector: matches the webhook's own pods; choose a selector the webhook does not carry" }}
{{- end }}
{{- end }}

{{/* A comma list of the entries of a list value, each rendered with tpl. Takes (dict "list" .. "root" $). */}}
{{- define "mpcguard.tplJoin" -}}
{{- $out := list }}
{{- range .list }}
{{- $out = append $out (tpl . $.root) }}
{{- end }}
{{- join "," $out }}
{{- end }}

{{/* The persistent StatefulSets for messages, as the policies write them: "StatefulSet a, StatefulSet b", or
"a StatefulSet" when persistentWorkloads is empty. */}}
{{- define "mpcguard.workloadsText" -}}
{{- $out := list }}
{{- range .Values.persistentWorkloads }}
{{- $out = append $out (printf "StatefulSet %s" (tpl . $)) }}
{{- end }}
{{- if $out }}{{ join ", " $out }}{{ else }}a StatefulSet{{ end }}
{{- end }}

{{/* The label keys a Binding may not set, as a sorted JSON array: the party selector's keys and the role
label key. */}}
{{- define "mpcguard.partyKeys" -}}
{{- $keys := keys (include "mpcguard.partySelectorLabels" . | fromYaml) }}
{{- $keys = append $keys .Values.global.party.roleLabelKey | uniq | sortAlpha }}
{{- toJson $keys }}
{{- end }}

{{/* A list of strings rendered with tpl, as a JSON array. Takes (dict "list" $list "root" $). */}}
{{- define "mpcguard.tplList" -}}
{{- $out := list }}
{{- range .list }}
{{- $out = append $out (tpl . $.root) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* --enforcement: policy-id=action pairs, sorted by policy id. */}}
{{- define "mpcguard.enforcement" -}}
{{- $out := list }}
{{- range $id, $action := .Values.webhook.enforcement }}
{{- $out = append $out (printf "%s=%s" $id $action) }}
{{- end }}
{{- join "," $out }}
{{- end }}

{{/* This release's ValidatingWebhookConfiguration: cluster-scoped, so the release namespace is in its name. */}}
{{- define "mpcguard.webhookConfigurationName" -}}
{{- printf "%s-%s" (include "mpcguard.fullname" .) .Release.Namespace | trunc 253 }}
{{- end }}

{{/* The Secret the webhook keeps its CA and serving certificate in (webhook.certs.mode rotate). */}}
{{- define "mpcguard.certsSecretName" -}}
{{- printf "%s-certs" (include "mpcguard.webhookName" .) }}
{{- end }}

{{/* "true" when the webhook runs in the cluster and rotates its own certificates, else "". */}}
{{- define "mpcguard.rotateOn" -}}
{{- if and (not .Values.webhook.url) (eq .Values.webhook.certs.mode "rotate") }}true{{ end }}
{{- end }}

{{/* The problems of webhook.certs, one line each: the values a mode needs. */}}
{{- define "mpcguard.certsErrors" -}}
{{- if and (not .Values.webhook.url) (eq .Values.webhook.certs.mode "secret") }}
{{- if not .Values.webhook.certs.existingSecret }}
mpcguard: webhook.certs.existingSecret: mode secret needs the name of a kubernetes.io/tls Secret in {{ .Release.Namespace }}
{{- end }}
{{- if not .Values.webhook.certs.caBundle }}
mpcguard: webhook.certs.caBundle: mode secret needs the base64 PEM CA that verifies the Secret's certificate
{{- end }}
{{- end }}
{{- end }}

{{- define "mpcguard.clientConfig" -}}
{{- if .Values.webhook.url }}
url: {{ .Values.webhook.url | quote }}
{{- with .Values.webhook.caBundle }}
caBundle: {{ . | quote }}
{{- end }}
{{- else }}
service:
  name: {{ include "mpcguard.webhookName" . }}
  namespace: {{ .Release.Namespace }}
  path: /validate
  port: 443
{{- /* rotate: no caBundle key at all, the webhook keeps it current (an empty value would be applied at every
upgrade or sync); certManager: cert-manager's cainjector fills it. */}}
{{- if eq .Values.webhook.certs.mode "secret" }}
caBundle: {{ .Values.webhook.certs.caBundle | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mpcguard.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: In
    values:
      {{- include "mpcguard.namespaces" . | fromJsonArray | toYaml | nindent 6 }}
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      - kube-system
{{- end }}

{{/* The settings every webhook of the configuration shares. */}}
{{- define "mpcguard.webhookCommon" -}}
admissionReviewVersions:
  - v1
sideEffects: None
matchPolicy: Equivalent
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
clientConfig:
  {{- include "mpcguard.clientConfig" . | trim | nindent 2 }}
namespaceSelector:
  {{- include "mpcguard.namespaceSelector" . | nindent 2 }}
{{- end }}

{{/* "true" when the native policies are rendered (webhook.nativePolicies.enabled, and the API server serves
ValidatingAdmissionPolicies), else "". */}}
{{- define "mpcguard.nativeOn" -}}
{{- if and .Values.webhook.nativePolicies.enabled (.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy") }}true{{ end }}
{{- end }}

{{/* The failurePolicy of one webhook entry. Takes (dict "root" $ "webhook" <entry of mpcguard.vocab>).
webhook.failurePolicy, but with webhook.nativePolicies.failOpen and the native policies rendered, Ignore for every
entry but the one of MPCSessions, whose session-persistent-available needs the webhook's inventory and has no
native form: it stays fail-closed. */}}
{{- define "mpcguard.failurePolicy" -}}
{{- $sessions := false }}
{{- range .webhook.rules }}
{{- if has "mpcsessions" .resources }}
{{- $sessions = true }}
{{- end }}
{{- end }}
{{- if and .root.Values.webhook.nativePolicies.failOpen (include "mpcguard.nativeOn" .root) (not $sessions) }}Ignore
{{- else }}{{ .root.Values.webhook.failurePolicy }}
{{- end }}
{{- end }}

{{/* "true" when the webhook audits existing objects (webhook.audit.interval set and not zero), else "". */}}
{{- define "mpcguard.auditOn" -}}
{{- $interval := .Values.webhook.audit.interval | toString | trim }}
{{- if and $interval (ne $interval "0") (ne $interval "0s") }}true{{ end }}
{{- end }}

{{/* The audit's Lease, in the release namespace. */}}
{{- define "mpcguard.auditLeaseName" -}}
{{- printf "%s-audit" (include "mpcguard.webhookName" .) }}
{{- end }}

{{/* An alert's labels: prometheusRule.alertLabels and its severity. Takes (dict "rule" $rule "severity" $s). */}}
{{- define "mpcguard.alertLabels" -}}
{{- toYaml (merge (dict "severity" .severity) (.rule.alertLabels | default dict)) }}
{{- end }}
