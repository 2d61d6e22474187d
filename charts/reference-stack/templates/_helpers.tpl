{{/* Chart name, overridable. */}}
{{- define "rs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified release name. */}}
{{- define "rs.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Common labels; pass (dict "ctx" $ "component" "capture"). */}}
{{- define "rs.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{ include "rs.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: reference-stack
{{- end -}}

{{/* Selector labels; pass (dict "ctx" $ "component" "capture"). */}}
{{- define "rs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rs.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Name of one component's objects. */}}
{{- define "rs.component" -}}
{{- printf "%s-%s" (include "rs.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rs.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The app Secret (postgres-dsn, clickhouse-password). */}}
{{- define "rs.appSecretName" -}}
{{- default (printf "%s-app" (include "rs.fullname" .)) .Values.app.existingSecret -}}
{{- end -}}

{{/*
The Secrets the chart generates (templates/secrets.yaml); pass
(dict "ctx" $ "pgPassword" "..." "chPassword" "...").
*/}}
{{- define "rs.secrets" -}}
{{- $ctx := .ctx -}}
{{- $full := include "rs.fullname" $ctx -}}
{{- if and $ctx.Values.postgresql.enabled (not $ctx.Values.postgresql.auth.existingSecret) }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $full }}-postgresql
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "rs.labels" (dict "ctx" $ctx "component" "postgresql") | nindent 4 }}
type: Opaque
data:
  # postgres-password is the superuser's (only the init script uses it);
  # app-password is the application role's (NOSUPERUSER NOCREATEDB NOCREATEROLE).
  postgres-password: {{ .pgPassword | b64enc | quote }}
  app-password: {{ .pgAppPassword | b64enc | quote }}
{{- end }}
{{- if not $ctx.Values.app.existingSecret }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $full }}-app
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "rs.labels" (dict "ctx" $ctx "component" "app") | nindent 4 }}
type: Opaque
data:
  clickhouse-password: {{ .chPassword | b64enc | quote }}
  {{- if $ctx.Values.postgresql.enabled }}
  postgres-dsn: {{ printf "postgres://%s:%s@%s-postgresql.%s.svc:5432/%s?sslmode=disable" $ctx.Values.postgresql.user .pgAppPassword $full $ctx.Release.Namespace $ctx.Values.postgresql.database | b64enc | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
checksum/secret of the app pods: the Secrets above rendered with placeholder
passwords, so it changes with everything helm can change in them (DSN user,
database, host, which Secrets exist) but is the same on every render of the
same values: generated passwords are random until the first install and kept
by lookup afterwards, and hashing them would roll the pods on the first no-op
upgrade (and make `helm template` differ on each run). A Secret named by
app.existingSecret is not rendered by the chart, so its content is not seen.
*/}}
{{- define "rs.secretChecksum" -}}
{{- include "rs.secrets" (dict "ctx" . "pgPassword" "generated" "pgAppPassword" "generated" "chPassword" "generated") | sha256sum -}}
{{- end -}}

{{/* Kafka bootstrap servers for the app. */}}
{{- define "rs.kafkaBrokers" -}}
{{- if .Values.kafka.enabled -}}
{{- $full := include "rs.fullname" . -}}
{{- printf "%s-kafka.%s.svc:9092" $full .Release.Namespace -}}
{{- else -}}
{{- $b := .Values.externalKafka.brokers -}}
{{- if not $b -}}
{{- fail "externalKafka.brokers is required when kafka.enabled is false" -}}
{{- end -}}
{{- if kindIs "string" $b -}}{{ $b }}{{- else -}}{{ join "," $b }}{{- end -}}
{{- end -}}
{{- end -}}

{{/* ClickHouse native address for the app. */}}
{{/* ClickHouse database and user the app connects with, in-chart or external. */}}
{{- define "rs.clickhouseDatabase" -}}
{{- if .Values.clickhouse.enabled }}{{ .Values.clickhouse.database }}{{ else }}{{ .Values.externalClickhouse.database }}{{ end -}}
{{- end -}}
{{- define "rs.clickhouseUser" -}}
{{- if .Values.clickhouse.enabled }}{{ .Values.clickhouse.user }}{{ else }}{{ .Values.externalClickhouse.user }}{{ end -}}
{{- end -}}

{{- define "rs.clickhouseAddr" -}}
{{- if .Values.clickhouse.enabled -}}
{{- printf "%s-clickhouse.%s.svc:9000" (include "rs.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- if not .Values.externalClickhouse.host -}}
{{- fail "externalClickhouse.host is required when clickhouse.enabled is false" -}}
{{- end -}}
{{- printf "%s:%v" .Values.externalClickhouse.host .Values.externalClickhouse.port -}}
{{- end -}}
{{- end -}}

{{/* Secret and key holding POSTGRES_DSN, as "name key". */}}
{{- define "rs.postgresDSNRef" -}}
{{- if .Values.postgresql.enabled -}}
{{- if and .Values.postgresql.auth.existingSecret (not .Values.app.existingSecret) -}}
{{- fail "app.existingSecret is required when postgresql.auth.existingSecret is set (the chart cannot build the DSN without the password)" -}}
{{- end -}}
{{- printf "%s postgres-dsn" (include "rs.appSecretName" .) -}}
{{- else -}}
{{- if not .Values.externalPostgresql.host -}}
{{- fail "externalPostgresql.host is required when postgresql.enabled is false" -}}
{{- end -}}
{{- if not .Values.externalPostgresql.existingSecret -}}
{{- fail "externalPostgresql.existingSecret is required when postgresql.enabled is false (a Secret holding the DSN)" -}}
{{- end -}}
{{- printf "%s %s" .Values.externalPostgresql.existingSecret .Values.externalPostgresql.dsnKey -}}
{{- end -}}
{{- end -}}

{{/* Secret holding clickhouse-password, as "name". */}}
{{- define "rs.clickhouseSecretName" -}}
{{- if and (not .Values.clickhouse.enabled) .Values.externalClickhouse.existingSecret -}}
{{- .Values.externalClickhouse.existingSecret -}}
{{- else -}}
{{- include "rs.appSecretName" . -}}
{{- end -}}
{{- end -}}

{{/* storageClassName line for PVC templates, if any. */}}
{{- define "rs.storageClassName" -}}
{{- $name := .Values.persistence.storageClassName -}}
{{- if and .Values.storageClass.create (not $name) -}}
{{- $name = required "storageClass.name is required when storageClass.create is true" .Values.storageClass.name -}}
{{- end -}}
{{- if $name -}}
storageClassName: {{ $name | quote }}
{{- end -}}
{{- end -}}

{{/* PVC retention of the datastores' StatefulSets (persistence.claimRetention). */}}
{{- define "rs.claimRetention" -}}
{{- with .Values.persistence.claimRetention -}}
persistentVolumeClaimRetentionPolicy:
  whenDeleted: {{ .whenDeleted | default "Retain" }}
  whenScaled: {{ .whenScaled | default "Retain" }}
{{- end -}}
{{- end -}}

{{/* Pod security context for datastores running as uid, and gid (default: uid). */}}
{{- define "rs.podSecurityContext" -}}
{{- $gid := .gid | default .uid -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ $gid }}
fsGroup: {{ $gid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
uid and gid a datastore runs as, as "uid gid": its runAsUser/runAsGroup when set,
else those of its flavor's image. The official images' users are fixed (ClickHouse
101, PostgreSQL 999); in shakedown's Debian images (shakedown images build) the
packages' system users are clickhouse 100:101 and postgres 100:102.
Pass (dict "v" .Values.clickhouse "official" (list 101 101) "debian" (list 100 101)).
*/}}
{{- define "rs.datastoreIDs" -}}
{{- $ids := ternary .debian .official (eq (.v.flavor | default "official") "debian") -}}
{{- printf "%v %v" (.v.runAsUser | default (index $ids 0)) (.v.runAsGroup | default (index $ids 1)) -}}
{{- end -}}

{{/* Fails unless kafka.implementation=reference runs exactly one broker. */}}
{{- define "rs.kafka.validate" -}}
{{- if and (eq .Values.kafka.implementation "reference") (ne (int .Values.kafka.replicaCount) 1) -}}
{{- fail (printf "kafka.implementation=reference is one broker without replication (serve kafka, franz-go's kfake): set kafka.replicaCount to 1 (it is %v), or use kafka.implementation=apache for a replicated cluster" .Values.kafka.replicaCount) -}}
{{- end -}}
{{- end -}}

{{/* Fails early on impossible combinations; included by every workload. */}}
{{- define "rs.validate" -}}
{{- if and .Values.ingress.enabled (not .Values.capture.enabled) -}}
{{- fail "ingress.enabled needs capture.enabled (the ingress routes to capture)" -}}
{{- end -}}
{{- $_ := include "rs.kafkaBrokers" . -}}
{{- $_ := include "rs.clickhouseAddr" . -}}
{{- $_ := include "rs.postgresDSNRef" . -}}
{{- if .Values.kafka.enabled }}{{ include "rs.kafka.validate" . }}{{ end -}}
{{- end -}}

{{/* NetworkPolicy peer selecting one component of this release. */}}
{{- define "rs.np.peer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .ctx.Release.Name }}
      app.kubernetes.io/component: {{ .component }}
{{- end -}}
{{- define "rs.np.dns" -}}
- to:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- end -}}
