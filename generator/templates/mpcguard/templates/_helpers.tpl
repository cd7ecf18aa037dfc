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

{{/* The self-signed serving certificate, as JSON {ca, crt, key} (base64 PEM). It is read back from the existing
Secret, so upgrades keep it; otherwise a CA and a certificate for the Service are generated. The result is
memoised on the chart's root context so that the Secret and the webhook configuration share one CA. */}}
{{- define "mpcguard.selfSignedTLS" -}}
{{- if not (hasKey . "mpcguardSelfSignedTLS") }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "mpcguard.tlsSecretName" .) }}
{{- $ca := dig "data" "ca.crt" "" $existing }}
{{- $crt := dig "data" "tls.crt" "" $existing }}
{{- $key := dig "data" "tls.key" "" $existing }}
{{- if not (and $ca $crt $key) }}
{{- $svc := include "mpcguard.webhookName" . }}
{{- $ns := .Release.Namespace }}
{{- $dnsNames := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) }}
{{- $caCert := genCA (printf "%s-ca" $svc) 3650 }}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc $ns) nil $dnsNames 3650 $caCert }}
{{- $ca = $caCert.Cert | b64enc }}
{{- $crt = $cert.Cert | b64enc }}
{{- $key = $cert.Key | b64enc }}
{{- end }}
{{- $_ := set . "mpcguardSelfSignedTLS" (dict "ca" $ca "crt" $crt "key" $key) }}
{{- end }}
{{- toJson (get . "mpcguardSelfSignedTLS") }}
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
{{- if not .Values.webhook.certManager.enabled }}
caBundle: {{ (include "mpcguard.selfSignedTLS" . | fromJson).ca | quote }}
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
failurePolicy: {{ .Values.webhook.failurePolicy }}
matchPolicy: Equivalent
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
clientConfig:
  {{- include "mpcguard.clientConfig" . | trim | nindent 2 }}
namespaceSelector:
  {{- include "mpcguard.namespaceSelector" . | nindent 2 }}
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
