{{/* The rules of the mpc-system chart's values that values.schema.json cannot express: the one place they are
written. They run at every render (helm install, upgrade, template and lint) and at `mpcguard generate`,
which renders the chart to check a spec and reports each line "mpc-system: <values path>: <problem>" as an
error of that value. mpc-system.check fails with every problem at once, or renders nothing. */}}

{{- define "mpc-system.check" -}}
{{- $errs := include "mpc-system.errors" . | trim }}
{{- if $errs }}
{{- fail (printf "\n%s" $errs) }}
{{- end }}
{{- end }}

{{/* Warnings, one line "WARNING: <values path>: <problem>" each, for NOTES (and `mpcguard generate`). */}}
{{- define "mpc-system.warnings" -}}
{{- $t := int .Values.threshold.t }}
{{- $nonPersistent := 0 }}
{{- range $name, $pool := .Values.pools }}
{{- if ne $pool.role "persistent" }}
{{- $nonPersistent = add $nonPersistent (int $pool.replicas) }}
{{- end }}
{{- end }}
{{- if and (ge $nonPersistent $t) (ge $t 1) }}
WARNING: pools: {{ $nonPersistent }} delegate and temporary parties reach the default threshold t={{ $t }}: sessions must keep non-persistent parties below t (mpcguard denies any that do not)
{{- end }}
{{- if and .Values.networkPolicy.enabled (not .Values.parties.networkPolicy.extraEgress) }}
{{- range $name, $pool := .Values.pools }}
{{- if ($pool.shareStorage | default dict).databaseSecret }}
WARNING: parties.networkPolicy.extraEgress: pools.{{ $name }} keeps its shares in a database, which the parties' NetworkPolicy does not let them reach; add an egress rule to it
{{- end }}
{{- end }}
{{- end }}
{{- $hook := .Values.mpcguard }}
{{- if and $hook.enabled (not $hook.webhook.url) (eq $hook.webhook.failurePolicy "Fail") (eq (int $hook.webhook.replicas) 1) }}
WARNING: mpcguard.webhook.replicas: a single replica with failurePolicy Fail blocks party pods whenever it is down; run two or more
{{- end }}
{{- end }}

{{- define "mpc-system.errors" -}}
{{- $t := int .Values.threshold.t }}
{{- $n := int .Values.threshold.n }}
{{- if gt $t $n }}
mpc-system: threshold.t: {{ $t }} must not exceed threshold.n={{ $n }} (t-of-n: any t of the n parties can sign)
{{- end }}
{{- $roleKey := .Values.global.party.roleLabelKey }}
{{- range $k, $v := include "mpc-system.partySelectorLabels" . | fromYaml }}
{{- if has $k (list "app.kubernetes.io/name" "app.kubernetes.io/instance" "mpc.mpcguard.io/pool" $roleKey) }}
mpc-system: global.party.selector: must not use the label {{ $k }}, which the chart sets itself
{{- end }}
{{- if and (eq $k "app.kubernetes.io/component") (eq $v "admission-webhook") }}
mpc-system: global.party.selector: {{ $k }}={{ $v }} would match the webhook's own pods
{{- end }}
{{- end }}
{{- if eq (int .Values.parties.port) (int .Values.parties.healthPort) }}
mpc-system: parties.healthPort: must differ from parties.port ({{ .Values.parties.port }})
{{- end }}
{{- if eq (int .Values.coordinator.ports.http) (int .Values.coordinator.ports.grpc) }}
mpc-system: coordinator.ports.grpc: must differ from coordinator.ports.http ({{ .Values.coordinator.ports.http }})
{{- end }}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.apiServer.ports) }}
mpc-system: networkPolicy.apiServer.ports: must name the API server's ports (an egress rule without ports opens every port)
{{- end }}
{{- include "mpc-system.podValuesErrors" (dict "root" $ "values" .Values.coordinator "path" "coordinator") }}
{{- $persistent := list }}
{{- range $name, $pool := .Values.pools }}
{{- $path := printf "pools.%s" $name }}
{{- include "mpc-system.podValuesErrors" (dict "root" $ "values" $pool "path" $path) }}
{{- $storage := $pool.shareStorage | default dict }}
{{- if eq $pool.role "persistent" }}
{{- $persistent = append $persistent $name }}
{{- if lt (int $pool.replicas) $t }}
mpc-system: {{ $path }}.replicas: {{ $pool.replicas }} persistent parties, fewer than threshold.t={{ $t }}: the strict persistent-only default could never sign
{{- end }}
{{- if not (eq (len (compact (list $storage.volumeClaim $storage.databaseSecret))) 1) }}
mpc-system: {{ $path }}.shareStorage: a persistent pool keeps its shares in exactly one of volumeClaim or databaseSecret
{{- end }}
{{- with $storage.volumeClaim }}
{{- if eq .name "tmp" }}
mpc-system: {{ $path }}.shareStorage.volumeClaim.name: tmp is the scratch volume
{{- end }}
{{- if eq (clean .mountPath) "/tmp" }}
mpc-system: {{ $path }}.shareStorage.volumeClaim.mountPath: /tmp is the scratch volume
{{- end }}
{{- end }}
{{- else if or $storage.volumeClaim $storage.databaseSecret }}
mpc-system: {{ $path }}.shareStorage: a {{ $pool.role }} pool has no share storage: a non-persistent party with shares is a persistent party in disguise
{{- end }}
{{- end }}
{{- if ne (len $persistent) 1 }}
mpc-system: pools: exactly one pool must have role persistent (sessions default to persistent parties only), found {{ len $persistent }}{{ with $persistent }}: {{ join ", " . }}{{ end }}
{{- else if .Values.mpcguard.enabled }}
{{- include "mpc-system.webhookErrors" (dict "root" $ "persistent" (include "mpc-system.persistentPool" . | fromJson)) }}
{{- end }}
{{- end }}

{{/* What the mpcguard dependency is told about this chart must be exactly what the chart renders. Takes (dict
"root" $ "persistent" $persistentPool).

- shareStorage: the persistent pool's database Secret is among secretNames, and claimPrefixes are exactly
  <volumeClaimTemplate>-<statefulset>- of its volume claim (the policies match claims <prefix><ordinal> only, so
  any other prefix would guard nothing while looking as if it did).
- persistentWorkloads are exactly the persistent pool's StatefulSet.
- threshold.t is this chart's threshold.t: the webhook refuses to scale the persistent pool below it.
- Every namespace the coordinator discovers parties in is checked by the webhook. The render refuses a
  difference instead of widening the webhook's namespaces itself: a dependency cannot read its parent's values,
  so deriving would mean a second copy of the list in global values; the webhook's namespaces are its security
  boundary and its RBAC (a Role per namespace), which should be written where they are reviewed, not grown by a
  change to discovery. */}}
{{- define "mpc-system.webhookErrors" -}}
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
{{- $storage := $persistent.shareStorage | default dict }}
{{- $wantPrefixes := list }}
{{- $wantPrefixesTpl := list }}
{{- with $storage.volumeClaim }}
{{- $wantPrefixes = list (printf "%s-%s-" .name $statefulSet) }}
{{- $wantPrefixesTpl = list (printf "%s-{{ include \"mpc-system.poolName\" (dict \"root\" . \"pool\" (dict \"name\" %q)) }}-" .name $persistent.name) }}
{{- end }}
{{- if ne (uniq $tplList.claimPrefixes | toJson) ($wantPrefixes | toJson) }}
mpc-system: mpcguard.shareStorage.claimPrefixes: must be exactly {{ $wantPrefixes | toJson }}, <volumeClaimTemplate>-<statefulset>- of the persistent pool {{ $persistent.name }} (the policies match the claims <prefix><ordinal>), not {{ $tplList.claimPrefixes | toJson }}; write {{ $wantPrefixesTpl | toJson }}
{{- end }}
{{- with $storage.databaseSecret }}
{{- if not (has .name $tplList.secretNames) }}
mpc-system: mpcguard.shareStorage.secretNames: must contain {{ .name | quote }} so that delegates cannot mount the shares
{{- end }}
{{- end }}
{{- if ne (uniq $tplList.persistentWorkloads | toJson) (list $statefulSet | toJson) }}
mpc-system: mpcguard.persistentWorkloads: must be exactly [{{ $statefulSet | quote }}], the StatefulSet of the persistent pool {{ $persistent.name }}, not {{ $tplList.persistentWorkloads | toJson }}; write [{{ printf "{{ include \"mpc-system.poolName\" (dict \"root\" . \"pool\" (dict \"name\" %q)) }}" $persistent.name | squote }}]
{{- end }}
{{- if ne (int $guard.threshold.t) (int $root.Values.threshold.t) }}
mpc-system: mpcguard.threshold.t: must be threshold.t ({{ $root.Values.threshold.t }}), the t below which the webhook refuses to scale the persistent pool, not {{ $guard.threshold.t }}
{{- end }}
{{- $checked := prepend $guard.webhook.namespaces $root.Release.Namespace }}
{{- $missing := list }}
{{- range $root.Values.coordinator.discovery.namespaces }}
{{- if not (has . $checked) }}
{{- $missing = append $missing . }}
{{- end }}
{{- end }}
{{- if $missing }}
mpc-system: coordinator.discovery.namespaces: names namespaces the webhook does not check: {{ join ", " $missing }}; add them to mpcguard.webhook.namespaces, or the coordinator discovers parties there that no policy checked
{{- end }}
{{- end }}
