package lint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	helmlint "helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"sigs.k8s.io/yaml"
)

// largeChartVersions is the 13-version matrix of the large-chart benchmark.
var largeChartVersions = []string{"1.22.17", "1.23.17", "1.24.17", "1.25.16", "1.26.15", "1.27.16", "1.28.15",
	"1.29.15", "1.30.14", "1.31.14", "1.32.13", "1.33.9", "1.34.4"}

// largeChartObjects is the size of the generated chart: about this many
// objects per cell (one more on aws, which adds an encrypted StorageClass).
const largeChartObjects = 1000

// largeChartPeakRSSLimitMB is the budget for shakedown lint of the
// large chart at 13 versions.
const largeChartPeakRSSLimitMB = 250

// Objects per generated group: 4 Deployments × 11 objects (Deployment,
// Service, ConfigMap, Secret, ServiceAccount, Role, RoleBinding,
// PodDisruptionBudget, NetworkPolicy, HorizontalPodAutoscaler, Ingress),
// 1 StatefulSet × 7 (StatefulSet, headless Service, ConfigMap, Secret,
// ServiceAccount, PodDisruptionBudget, NetworkPolicy) and 1 CronJob × 4
// (CronJob, ConfigMap, ServiceAccount, NetworkPolicy).
const (
	largeDeploymentsPerGroup = 4
	largeObjectsPerGroup     = largeDeploymentsPerGroup*11 + 7 + 4
	// largeFixedObjects: the CRD and the default-deny NetworkPolicy.
	largeFixedObjects = 2
	largeMinWidgets   = 3
	largeCRDFields    = 200
)

// writeLargeChart writes into dir a chart "large" that renders about objects
// Kubernetes objects, all from loops over .Values lists, that lints clean on
// Kubernetes 1.22-1.34 and on its two cloud overlays (values/aws.yaml,
// values/gcp.yaml). The remainder of objects not filling a whole group is
// made up with Widget custom resources of the chart's CRD (crds/).
func writeLargeChart(t testing.TB, dir string, objects int) {
	t.Helper()
	groups := max(1, (objects-largeFixedObjects-largeMinWidgets)/largeObjectsPerGroup)
	widgets := max(largeMinWidgets, objects-largeFixedObjects-groups*largeObjectsPerGroup)

	files := map[string][]byte{
		"Chart.yaml":             []byte(largeChartYAML),
		"values.yaml":            largeValues(t, groups, widgets),
		"values.schema.json":     largeValuesSchema(t),
		"values/aws.yaml":        []byte("storage:\n  className: encrypted-gp3\n  createEncryptedClass: true\nglobal:\n  ingressClassName: alb\n"),
		"values/gcp.yaml":        []byte("storage:\n  className: standard-rwo\nglobal:\n  ingressClassName: gce\n"),
		"crds/widgets.yaml":      largeCRD(t),
		"templates/NOTES.txt":    []byte("{{ len .Values.deployments }} services, {{ len .Values.statefulSets }} databases and {{ len .Values.cronJobs }} jobs of {{ .Release.Name }} are installed.\n"),
		"templates/_helpers.tpl": []byte(largeHelpersTpl),
	}
	for name, text := range largeTemplates {
		files["templates/"+name] = []byte(text)
	}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const largeChartYAML = `apiVersion: v2
name: large
description: A generated chart of about a thousand objects, for benchmarking shakedown lint.
type: application
version: 1.2.3
appVersion: "4.5.6"
icon: https://example.com/large.png
home: https://example.com/large
maintainers:
  - name: platform
    email: platform@example.com
`

// largeValues builds values.yaml: groups × (4 services, 1 database, 1 cron
// job) and widgets custom resources, each entry with its own settings.
func largeValues(t testing.TB, groups, widgets int) []byte {
	t.Helper()
	var deployments, statefulSets, cronJobs, widgetList []map[string]any
	for g := range groups {
		for k := range largeDeploymentsPerGroup {
			i := g*largeDeploymentsPerGroup + k
			name := fmt.Sprintf("svc-%03d", i)
			deployments = append(deployments, map[string]any{
				"name":     name,
				"image":    map[string]any{"repository": "shakedown/" + name, "tag": fmt.Sprintf("1.%d.%d", i%7, i%13)},
				"replicas": 2 + i%3,
				"port":     8080 + i%10,
				"resources": map[string]any{
					"requests": map[string]any{"cpu": fmt.Sprintf("%dm", 50+25*(i%8)), "memory": fmt.Sprintf("%dMi", 64+32*(i%6))},
					"limits":   map[string]any{"memory": fmt.Sprintf("%dMi", 256+64*(i%4))},
				},
				"env": map[string]any{
					"LOG_LEVEL": []string{"info", "debug", "warn"}[i%3], "LOG_FORMAT": "json", "HTTP_TIMEOUT": fmt.Sprintf("%ds", 5+i%20),
					"UPSTREAM_URL":  fmt.Sprintf("http://svc-%03d:80", (i+1)%(groups*largeDeploymentsPerGroup)),
					"FEATURE_FLAGS": "search,export,beta-ui", "CACHE_TTL": "300", "REGION": "eu-west-1", "TRACING_SAMPLE_RATE": "0.05",
				},
				"config": map[string]any{
					"server":   map[string]any{"port": 8080 + i%10, "readTimeout": "15s", "writeTimeout": "30s", "maxHeaderBytes": 65536},
					"database": map[string]any{"host": fmt.Sprintf("db-%03d", g), "port": 5432, "name": strings.ReplaceAll(name, "-", "_"), "poolSize": 10 + i%10},
					"features": map[string]any{"search": true, "export": i%2 == 0, "betaUI": i%5 == 0},
					"limits":   map[string]any{"requestsPerSecond": 100 + i, "burst": 50},
				},
				"secrets": map[string]any{
					"DB_PASSWORD": fmt.Sprintf("pw-%08x", i*2654435761%(1<<32)), "API_KEY": fmt.Sprintf("key-%016x", uint64(i)*0x9e3779b97f4a7c15), "SESSION_SECRET": fmt.Sprintf("sess-%d", i*7919),
				},
				"autoscaling": map[string]any{"maxReplicas": 6 + i%5, "targetCPU": 60 + i%20},
				"ingress":     map[string]any{"host": name, "path": "/"},
			})
		}
		name := fmt.Sprintf("db-%03d", g)
		statefulSets = append(statefulSets, map[string]any{
			"name":      name,
			"image":     map[string]any{"repository": "postgres", "tag": fmt.Sprintf("16.%d", g%5)},
			"replicas":  3,
			"port":      5432,
			"storage":   fmt.Sprintf("%dGi", 10+g%4*10),
			"resources": map[string]any{"requests": map[string]any{"cpu": "250m", "memory": "512Mi"}, "limits": map[string]any{"memory": "1Gi"}},
			"env":       map[string]any{"PGDATA": "/var/lib/postgresql/data/pgdata", "POSTGRES_DB": strings.ReplaceAll(name, "-", "_"), "POSTGRES_USER": "app"},
			"config":    map[string]any{"postgresql": map[string]any{"max_connections": 200, "shared_buffers": "256MB", "work_mem": "4MB", "wal_level": "replica"}},
			"secrets":   map[string]any{"POSTGRES_PASSWORD": fmt.Sprintf("pg-%08x", g*40503), "REPLICATION_PASSWORD": fmt.Sprintf("rep-%08x", g*65521)},
		})
		name = fmt.Sprintf("job-%03d", g)
		cronJobs = append(cronJobs, map[string]any{
			"name":      name,
			"image":     map[string]any{"repository": "shakedown/jobs", "tag": fmt.Sprintf("2.%d.0", g%9)},
			"schedule":  fmt.Sprintf("%d */%d * * *", g%60, 1+g%6),
			"args":      []string{"run", name, "--batch-size=500"},
			"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]any{"memory": "256Mi"}},
			"config":    map[string]any{"job": map[string]any{"name": name, "retries": 3, "timeout": "10m", "target": fmt.Sprintf("svc-%03d", g*largeDeploymentsPerGroup)}},
		})
	}
	for i := range widgets {
		spec := map[string]any{}
		for f := 0; f < largeCRDFields; f += 7 + i%3 {
			name, kind := largeCRDField(f)
			switch kind {
			case "string":
				spec[name] = fmt.Sprintf("value-%d-%d", i, f)
			case "integer":
				spec[name] = i + f
			case "boolean":
				spec[name] = (i+f)%2 == 0
			case "array":
				spec[name] = []string{"a", "b", fmt.Sprint(i)}
			case "object":
				group, field, _ := strings.Cut(name, ".")
				m, _ := spec[group].(map[string]any)
				if m == nil {
					m = map[string]any{}
					spec[group] = m
				}
				m[field] = fmt.Sprintf("v%d", f)
			}
		}
		widgetList = append(widgetList, map[string]any{"name": fmt.Sprintf("widget-%03d", i), "spec": spec})
	}
	values := map[string]any{
		"nameOverride":     "",
		"fullnameOverride": "",
		"global": map[string]any{
			"imageRegistry":    "registry.example.com",
			"imagePullPolicy":  "IfNotPresent",
			"domain":           "apps.example.com",
			"ingressClassName": "nginx",
			"initImage":        map[string]any{"repository": "library/busybox", "tag": "1.36.1"},
			"podSecurityContext": map[string]any{
				"runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
				"seccompProfile": map[string]any{"type": "RuntimeDefault"},
			},
			"containerSecurityContext": map[string]any{
				"runAsNonRoot": true, "runAsUser": 10001, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
				"capabilities": map[string]any{"drop": []string{"ALL"}},
			},
			"tolerations": []map[string]any{{"key": "workload", "operator": "Equal", "value": "apps", "effect": "NoSchedule"}},
		},
		"storage":      map[string]any{"className": "", "createEncryptedClass": false},
		"deployments":  deployments,
		"statefulSets": statefulSets,
		"cronJobs":     cronJobs,
		"widgets":      widgetList,
	}
	data, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("# Generated by writeLargeChart (suites/lint/largechart_test.go).\n"), data...)
}

// largeValuesSchema is values.schema.json: every list item's shape.
func largeValuesSchema(t testing.TB) []byte {
	t.Helper()
	str := map[string]any{"type": "string"}
	integer := map[string]any{"type": "integer", "minimum": 0}
	image := map[string]any{"type": "object", "required": []string{"repository", "tag"}, "additionalProperties": false,
		"properties": map[string]any{"repository": str, "tag": map[string]any{"type": "string", "pattern": `^[0-9A-Za-z_.-]+$`, "not": map[string]any{"const": "latest"}}}}
	resources := map[string]any{"type": "object", "required": []string{"requests", "limits"},
		"properties": map[string]any{
			"requests": map[string]any{"type": "object", "required": []string{"cpu", "memory"}, "additionalProperties": str},
			"limits":   map[string]any{"type": "object", "required": []string{"memory"}, "additionalProperties": str},
		}}
	stringMap := map[string]any{"type": "object", "additionalProperties": str}
	name := map[string]any{"type": "string", "pattern": `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, "maxLength": 40}
	list := func(required []string, props map[string]any) map[string]any {
		return map[string]any{"type": "array", "items": map[string]any{"type": "object", "required": required, "additionalProperties": false, "properties": props}}
	}
	schema := map[string]any{
		"$schema":  "https://json-schema.org/draft-07/schema#",
		"type":     "object",
		"required": []string{"global", "storage", "deployments", "statefulSets", "cronJobs", "widgets"},
		"properties": map[string]any{
			"nameOverride":     str,
			"fullnameOverride": str,
			"global": map[string]any{"type": "object", "required": []string{"imageRegistry", "podSecurityContext", "containerSecurityContext"},
				"properties": map[string]any{
					"imageRegistry":            str,
					"imagePullPolicy":          map[string]any{"enum": []string{"Always", "IfNotPresent", "Never"}},
					"domain":                   str,
					"ingressClassName":         str,
					"initImage":                image,
					"podSecurityContext":       map[string]any{"type": "object"},
					"containerSecurityContext": map[string]any{"type": "object", "required": []string{"readOnlyRootFilesystem", "allowPrivilegeEscalation"}},
					"tolerations":              map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
				}},
			"storage": map[string]any{"type": "object", "properties": map[string]any{"className": str, "createEncryptedClass": map[string]any{"type": "boolean"}}},
			"deployments": list([]string{"name", "image", "replicas", "port", "resources"}, map[string]any{
				"name": name, "image": image, "replicas": integer, "port": map[string]any{"type": "integer", "minimum": 1, "maximum": 65535},
				"resources": resources, "env": stringMap, "config": map[string]any{"type": "object"}, "secrets": stringMap,
				"autoscaling": map[string]any{"type": "object", "properties": map[string]any{"maxReplicas": integer, "targetCPU": map[string]any{"type": "integer", "minimum": 1, "maximum": 100}}},
				"ingress":     map[string]any{"type": "object", "properties": map[string]any{"host": str, "path": str}},
			}),
			"statefulSets": list([]string{"name", "image", "replicas", "port", "storage", "resources"}, map[string]any{
				"name": name, "image": image, "replicas": integer, "port": integer, "storage": map[string]any{"type": "string", "pattern": `^[0-9]+(Mi|Gi|Ti)$`},
				"resources": resources, "env": stringMap, "config": map[string]any{"type": "object"}, "secrets": stringMap,
			}),
			"cronJobs": list([]string{"name", "image", "schedule", "resources"}, map[string]any{
				"name": name, "image": image, "schedule": str, "args": map[string]any{"type": "array", "items": str},
				"resources": resources, "config": map[string]any{"type": "object"},
			}),
			"widgets": list([]string{"name", "spec"}, map[string]any{"name": name, "spec": map[string]any{"type": "object"}}),
		},
	}
	data, err := json.MarshalIndent(schema, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// largeCRDField names field f of the Widget schema and gives its kind: 40
// strings, 40 integers, 30 booleans, 30 string arrays and 60 fields of 20
// nested objects ("group.field"), 200 fields in all.
func largeCRDField(f int) (name, kind string) {
	switch {
	case f < 40:
		return fmt.Sprintf("label%02d", f), "string"
	case f < 80:
		return fmt.Sprintf("count%02d", f-40), "integer"
	case f < 110:
		return fmt.Sprintf("enable%02d", f-80), "boolean"
	case f < 140:
		return fmt.Sprintf("tags%02d", f-110), "array"
	default:
		return fmt.Sprintf("section%02d.option%d", (f-140)/3, (f-140)%3), "object"
	}
}

// largeCRD is crds/widgets.yaml: the Widget CRD with a 200-field spec.
func largeCRD(t testing.TB) []byte {
	t.Helper()
	props := map[string]any{}
	for f := range largeCRDFields {
		name, kind := largeCRDField(f)
		desc := fmt.Sprintf("Setting %d of the widget.", f)
		switch kind {
		case "string":
			props[name] = map[string]any{"type": "string", "maxLength": 253, "description": desc}
		case "integer":
			props[name] = map[string]any{"type": "integer", "format": "int32", "minimum": 0, "maximum": 100000, "description": desc}
		case "boolean":
			props[name] = map[string]any{"type": "boolean", "default": false, "description": desc}
		case "array":
			props[name] = map[string]any{"type": "array", "maxItems": 32, "items": map[string]any{"type": "string"}, "description": desc}
		case "object":
			group, field, _ := strings.Cut(name, ".")
			m, _ := props[group].(map[string]any)
			if m == nil {
				m = map[string]any{"type": "object", "description": "Section " + group + ".", "properties": map[string]any{}}
				props[group] = m
			}
			m["properties"].(map[string]any)[field] = map[string]any{"type": "string", "enum": []string{"low", "medium", "high", fmt.Sprint("v", f)}, "description": desc}
		}
	}
	crd := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "widgets.platform.example.com"},
		"spec": map[string]any{
			"group": "platform.example.com",
			"scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": []string{"wdg"}},
			"versions": []any{map[string]any{
				"name": "v1alpha1", "served": true, "storage": true,
				"subresources": map[string]any{"status": map[string]any{}},
				"additionalPrinterColumns": []any{
					map[string]any{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
					map[string]any{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
				},
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"apiVersion": map[string]any{"type": "string"},
						"kind":       map[string]any{"type": "string"},
						"metadata":   map[string]any{"type": "object"},
						"spec":       map[string]any{"type": "object", "properties": props},
						"status": map[string]any{"type": "object", "properties": map[string]any{
							"observedGeneration": map[string]any{"type": "integer", "format": "int64"},
							"conditions": map[string]any{"type": "array", "items": map[string]any{
								"type": "object", "required": []string{"type", "status"},
								"properties": map[string]any{"type": map[string]any{"type": "string"}, "status": map[string]any{"type": "string"}, "reason": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}},
							}},
						}},
					},
				}},
			}},
		},
	}
	data, err := yaml.Marshal(crd)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

const largeHelpersTpl = `{{/* Expand the name of the chart. */}}
{{- define "large.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* A fully qualified app name, truncated at 63 characters for DNS names. */}}
{{- define "large.fullname" -}}
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

{{- define "large.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name of a component; takes (dict "root" $ "name" <component>). */}}
{{- define "large.componentName" -}}
{{- printf "%s-%s" (include "large.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "large.selectorLabels" -}}
app.kubernetes.io/name: {{ include "large.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "large.labels" -}}
helm.sh/chart: {{ include "large.chart" .root }}
{{ include "large.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: {{ include "large.name" .root }}
{{- end -}}

{{/* An image reference; takes (dict "root" $ "image" {repository, tag}). */}}
{{- define "large.image" -}}
{{- printf "%s/%s:%s" .root.Values.global.imageRegistry .image.repository (toString .image.tag) -}}
{{- end -}}

{{- define "large.hpaApiVersion" -}}
{{- if .Capabilities.APIVersions.Has "autoscaling/v2/HorizontalPodAutoscaler" -}}autoscaling/v2{{- else -}}autoscaling/v2beta2{{- end -}}
{{- end -}}

{{- define "large.podSecurityContext" -}}
{{- toYaml .Values.global.podSecurityContext }}
{{- end -}}

{{- define "large.containerSecurityContext" -}}
{{- toYaml .Values.global.containerSecurityContext }}
{{- end -}}
`

// largeTemplates are the chart's templates, one file per kind.
var largeTemplates = map[string]string{
	"deployment.yaml": `{{- range $d := .Values.deployments }}
{{- $ctx := dict "root" $ "name" $d.name }}
{{- $name := include "large.componentName" $ctx }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  replicas: {{ $d.replicas }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "large.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "large.labels" $ctx | nindent 8 }}
      annotations:
        checksum/config: {{ toYaml $d.config | sha256sum }}
        checksum/secret: {{ toYaml $d.secrets | sha256sum }}
        prometheus.io/scrape: "true"
        prometheus.io/port: "9090"
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 30
      securityContext:
        {{- include "large.podSecurityContext" $ | nindent 8 }}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "large.selectorLabels" $ctx | nindent 20 }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "large.selectorLabels" $ctx | nindent 14 }}
      {{- with $.Values.global.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      initContainers:
        - name: wait-config
          image: {{ include "large.image" (dict "root" $ "image" $.Values.global.initImage) }}
          imagePullPolicy: {{ $.Values.global.imagePullPolicy }}
          command: [sh, -c, "test -s /etc/app/app.yaml"]
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {memory: 32Mi}
          securityContext:
            {{- include "large.containerSecurityContext" $ | nindent 12 }}
          volumeMounts:
            - {name: config, mountPath: /etc/app, readOnly: true}
      containers:
        - name: app
          image: {{ include "large.image" (dict "root" $ "image" $d.image) }}
          imagePullPolicy: {{ $.Values.global.imagePullPolicy }}
          args: ["--config=/etc/app/app.yaml", "--port={{ $d.port }}"]
          ports:
            - {name: http, containerPort: {{ $d.port }}, protocol: TCP}
            - {name: metrics, containerPort: 9090, protocol: TCP}
          env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: POD_NAMESPACE
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: GOMEMLIMIT
              valueFrom: {resourceFieldRef: {resource: limits.memory}}
            {{- range $k, $v := $d.env }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
            {{- range $k, $_ := $d.secrets }}
            - name: {{ $k }}
              valueFrom:
                secretKeyRef: {name: {{ $name }}, key: {{ $k }}}
            {{- end }}
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /ready, port: http}
            periodSeconds: 5
            timeoutSeconds: 2
          lifecycle:
            preStop:
              exec: {command: [sleep, "5"]}
          resources:
            {{- toYaml $d.resources | nindent 12 }}
          securityContext:
            {{- include "large.containerSecurityContext" $ | nindent 12 }}
          volumeMounts:
            - {name: config, mountPath: /etc/app, readOnly: true}
            - {name: secrets, mountPath: /etc/secrets, readOnly: true}
            - {name: tmp, mountPath: /tmp}
      volumes:
        - name: config
          configMap: {name: {{ $name }}, defaultMode: 420}
        - name: secrets
          secret: {secretName: {{ $name }}, defaultMode: 256}
        - name: tmp
          emptyDir: {sizeLimit: 64Mi}
{{- end }}
`,
	"statefulset.yaml": `{{- range $s := .Values.statefulSets }}
{{- $ctx := dict "root" $ "name" $s.name }}
{{- $name := include "large.componentName" $ctx }}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  serviceName: {{ $name }}
  replicas: {{ $s.replicas }}
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  selector:
    matchLabels:
      {{- include "large.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "large.labels" $ctx | nindent 8 }}
      annotations:
        checksum/config: {{ toYaml $s.config | sha256sum }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 60
      securityContext:
        {{- include "large.podSecurityContext" $ | nindent 8 }}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels:
                  {{- include "large.selectorLabels" $ctx | nindent 18 }}
      containers:
        - name: postgres
          image: {{ include "large.image" (dict "root" $ "image" $s.image) }}
          imagePullPolicy: {{ $.Values.global.imagePullPolicy }}
          ports:
            - {name: pg, containerPort: {{ $s.port }}, protocol: TCP}
          env:
            {{- range $k, $v := $s.env }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
            {{- range $k, $_ := $s.secrets }}
            - name: {{ $k }}
              valueFrom:
                secretKeyRef: {name: {{ $name }}, key: {{ $k }}}
            {{- end }}
          readinessProbe:
            exec: {command: [pg_isready, -U, app]}
            periodSeconds: 5
          livenessProbe:
            tcpSocket: {port: pg}
            initialDelaySeconds: 30
            periodSeconds: 10
          resources:
            {{- toYaml $s.resources | nindent 12 }}
          securityContext:
            {{- include "large.containerSecurityContext" $ | nindent 12 }}
          volumeMounts:
            - {name: data, mountPath: /var/lib/postgresql/data}
            - {name: run, mountPath: /var/run/postgresql}
            - {name: config, mountPath: /etc/postgresql/conf.d, readOnly: true}
            - {name: tmp, mountPath: /tmp}
      volumes:
        - name: run
          emptyDir: {}
        - name: tmp
          emptyDir: {}
        - name: config
          configMap: {name: {{ $name }}}
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "large.selectorLabels" $ctx | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $.Values.storage.className }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $s.storage }}
{{- end }}
`,
	"cronjob.yaml": `{{- range $j := .Values.cronJobs }}
{{- $ctx := dict "root" $ "name" $j.name }}
{{- $name := include "large.componentName" $ctx }}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ $name }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  schedule: {{ $j.schedule | quote }}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 1
  jobTemplate:
    spec:
      backoffLimit: 2
      activeDeadlineSeconds: 600
      ttlSecondsAfterFinished: 3600
      template:
        metadata:
          labels:
            {{- include "large.labels" $ctx | nindent 12 }}
        spec:
          restartPolicy: OnFailure
          serviceAccountName: {{ $name }}
          automountServiceAccountToken: false
          securityContext:
            {{- include "large.podSecurityContext" $ | nindent 12 }}
          containers:
            - name: job
              image: {{ include "large.image" (dict "root" $ "image" $j.image) }}
              imagePullPolicy: {{ $.Values.global.imagePullPolicy }}
              args:
                {{- toYaml $j.args | nindent 16 }}
              resources:
                {{- toYaml $j.resources | nindent 16 }}
              securityContext:
                {{- include "large.containerSecurityContext" $ | nindent 16 }}
              volumeMounts:
                - {name: config, mountPath: /etc/job, readOnly: true}
                - {name: tmp, mountPath: /tmp}
          volumes:
            - name: config
              configMap: {name: {{ $name }}}
            - name: tmp
              emptyDir: {}
{{- end }}
`,
	"service.yaml": `{{- range $d := .Values.deployments }}
{{- $ctx := dict "root" $ "name" $d.name }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "large.componentName" $ctx }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "large.selectorLabels" $ctx | nindent 4 }}
  ports:
    - {name: http, port: 80, targetPort: http, protocol: TCP}
    - {name: metrics, port: 9090, targetPort: metrics, protocol: TCP}
{{- end }}
{{- range $s := .Values.statefulSets }}
{{- $ctx := dict "root" $ "name" $s.name }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "large.componentName" $ctx }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    {{- include "large.selectorLabels" $ctx | nindent 4 }}
  ports:
    - {name: pg, port: {{ $s.port }}, targetPort: pg, protocol: TCP}
{{- end }}
`,
	"configmap.yaml": `{{- range $c := concat .Values.deployments .Values.statefulSets .Values.cronJobs }}
{{- $ctx := dict "root" $ "name" $c.name }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "large.componentName" $ctx }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
data:
  app.yaml: |
    {{- toYaml $c.config | nindent 4 }}
  release: {{ $.Release.Name | quote }}
  component: {{ $c.name | quote }}
{{- end }}
`,
	"secret.yaml": `{{- range $c := concat .Values.deployments .Values.statefulSets }}
{{- $ctx := dict "root" $ "name" $c.name }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "large.componentName" $ctx }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
type: Opaque
data:
  {{- range $k, $v := $c.secrets }}
  {{ $k }}: {{ $v | b64enc | quote }}
  {{- end }}
{{- end }}
`,
	"serviceaccount.yaml": `{{- range $c := concat .Values.deployments .Values.statefulSets .Values.cronJobs }}
{{- $ctx := dict "root" $ "name" $c.name }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "large.componentName" $ctx }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
automountServiceAccountToken: false
{{- end }}
`,
	"rbac.yaml": `{{- range $d := .Values.deployments }}
{{- $ctx := dict "root" $ "name" $d.name }}
{{- $name := include "large.componentName" $ctx }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    resourceNames: [{{ $name }}]
    verbs: [get, watch]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [get, create, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ $.Release.Namespace }}
{{- end }}
`,
	"pdb.yaml": `{{- range $c := concat .Values.deployments .Values.statefulSets }}
{{- if gt (int $c.replicas) 1 }}
{{- $ctx := dict "root" $ "name" $c.name }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "large.componentName" $ctx }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "large.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- end }}
`,
	"networkpolicy.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "large.fullname" . }}-default-deny
  labels:
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
  policyTypes: [Ingress, Egress]
  egress:
    - to:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - {port: 53, protocol: UDP}
        - {port: 53, protocol: TCP}
{{- range $c := concat .Values.deployments .Values.statefulSets .Values.cronJobs }}
{{- $ctx := dict "root" $ "name" $c.name }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "large.componentName" $ctx }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "large.selectorLabels" $ctx | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ $.Release.Name }}
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: ingress
      {{- with $c.port }}
      ports:
        - {port: {{ . }}, protocol: TCP}
      {{- end }}
  egress:
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ $.Release.Name }}
{{- end }}
`,
	"hpa.yaml": `{{- range $d := .Values.deployments }}
{{- $ctx := dict "root" $ "name" $d.name }}
{{- $name := include "large.componentName" $ctx }}
---
apiVersion: {{ include "large.hpaApiVersion" $ }}
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $d.replicas }}
  maxReplicas: {{ $d.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: {{ $d.autoscaling.targetCPU }}}
    - type: Resource
      resource:
        name: memory
        target: {type: Utilization, averageUtilization: 80}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
      policies:
        - {type: Percent, value: 50, periodSeconds: 60}
{{- end }}
`,
	"ingress.yaml": `{{- range $d := .Values.deployments }}
{{- $ctx := dict "root" $ "name" $d.name }}
{{- $name := include "large.componentName" $ctx }}
{{- $host := printf "%s.%s" $d.ingress.host $.Values.global.domain }}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ $name }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
  annotations:
    nginx.ingress.kubernetes.io/proxy-body-size: 8m
spec:
  ingressClassName: {{ $.Values.global.ingressClassName }}
  tls:
    - hosts: [{{ $host }}]
      secretName: {{ $name }}-tls
  rules:
    - host: {{ $host }}
      http:
        paths:
          - path: {{ $d.ingress.path }}
            pathType: Prefix
            backend:
              service:
                name: {{ $name }}
                port: {name: http}
{{- end }}
`,
	"storageclass.yaml": `{{- if .Values.storage.createEncryptedClass }}
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {{ .Values.storage.className }}
provisioner: ebs.csi.aws.com
parameters:
  type: gp3
  encrypted: "true"
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
{{- end }}
`,
	"widgets.yaml": `{{- range $w := .Values.widgets }}
{{- $ctx := dict "root" $ "name" $w.name }}
---
apiVersion: platform.example.com/v1alpha1
kind: Widget
metadata:
  name: {{ include "large.componentName" $ctx }}
  labels:
    {{- include "large.labels" $ctx | nindent 4 }}
spec:
  {{- toYaml $w.spec | nindent 2 }}
{{- end }}
`,
}

// largeChartOptions lints the chart in dir over its two overlays at versions.
// largeChartClouds are the chart's cloud overlays, values/<cloud>.yaml.
var largeChartClouds = []string{"aws", "gcp"}

func largeChartOptions(dir string, versions []string) Options {
	return Options{ChartDir: dir, KubeVersions: versions, OverlayDir: filepath.Join(dir, "values")}
}

// TestLargeChartRendersAboutThousandObjects checks the generator: about 1,000
// objects per cell, and a clean lint at both ends of the version range (1.22
// renders the HPAs as autoscaling/v2beta2) on both overlays.
func TestLargeChartRendersAboutThousandObjects(t *testing.T) {
	dir := t.TempDir()
	writeLargeChart(t, dir, largeChartObjects)
	versions := []string{largeChartVersions[0], largeChartVersions[len(largeChartVersions)-1]}
	r := lintChart(t, largeChartOptions(dir, versions))
	cells := len(r.Cells())
	if len(r.Clouds) != 2 {
		t.Errorf("clouds = %q, want the two overlays aws and gcp", r.Clouds)
	}
	perCell := r.Objects / max(1, cells)
	if perCell < 950 || perCell > 1100 {
		t.Errorf("%d objects per cell (%d over %d cells), want 950-1,100", perCell, r.Objects, cells)
	}
	if c := r.Count(); c.Errors > 0 {
		var b strings.Builder
		for _, f := range r.Findings {
			if f.Failing() {
				fmt.Fprintf(&b, "\n  %s %s %s %s: %s (cells %s)", f.Rule, f.File, f.Object, f.Field, f.Message, cellsText(f.Cells))
			}
		}
		t.Errorf("the large chart should lint clean: %s%s", r.Summary(), b.String())
	}
	t.Logf("%s", r.Summary())
}

// Environment of the large-chart child process (see TestLargeChartChild).
const (
	envLargeContender   = "SHAKEDOWN_LARGECHART_CONTENDER" // "shakedown", "helm" or "idle"
	envLargeDir         = "SHAKEDOWN_LARGECHART_DIR"       // the chart; generated there first if it has no Chart.yaml
	envLargeVersions    = "SHAKEDOWN_LARGECHART_VERSIONS"  // comma-separated; empty: the 13 of largeChartVersions
	envLargeResult      = "SHAKEDOWN_LARGECHART_RESULT"    // file the child writes its largeChildResult to; empty: the test log
	envLargeHeapProfile = "SHAKEDOWN_LARGECHART_PEAK_HEAP_PROFILE"
)

// Contenders of the large-chart child.
const (
	contenderShakedown = "shakedown" // lint.Run over the overlays × versions
	contenderHelm      = "helm"      // helm lint --strict once per version, chart defaults
	contenderIdle      = "idle"      // nothing: the test binary's own footprint
)

// largeChildResult is what the child measured in-process.
type largeChildResult struct {
	Contender string  `json:"contender"`
	Seconds   float64 `json:"seconds"` // the contender's work only, without process start
	Objects   int     `json:"objects"`
	Runs      int     `json:"runs"`     // cells (shakedown) or helm lint runs
	Failures  int     `json:"failures"` // unwaived errors (shakedown), warnings+errors (helm strict)
	Summary   string  `json:"summary"`
	// AllocMB is the heap allocated over the run; PeakLiveMB the largest live
	// heap seen at the end of a GC cycle.
	AllocMB    float64 `json:"allocMB"`
	PeakLiveMB float64 `json:"peakLiveMB"`
	GCs        uint64  `json:"gcs"`
}

// largeChildRun is a child's result with what the parent measured.
type largeChildRun struct {
	largeChildResult
	Wall time.Duration
	// CPU is the child's user + system time: on a shared machine a steadier
	// measure of the work than Wall.
	CPU       time.Duration
	PeakRSSMB float64
}

// TestLargeChartChild is a subprocess entry point, not a test: the large-chart
// benchmark and TestLargeChartMemoryFlatInVersions re-execute the test binary
// with -test.run=^TestLargeChartChild$ and the SHAKEDOWN_LARGECHART_* variables
// so that each contender's peak RSS is its own. Without them it skips, which
// is what it does in every ordinary run.
func TestLargeChartChild(t *testing.T) {
	contender := os.Getenv(envLargeContender)
	if contender == "" {
		t.Skip("subprocess entry point of the large-chart benchmark; runs only when " + envLargeContender + " is set")
	}
	dir, resultFile := os.Getenv(envLargeDir), os.Getenv(envLargeResult)
	versions := largeChartVersions
	if v := os.Getenv(envLargeVersions); v != "" {
		versions = strings.Split(v, ",")
	}
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		// Run by hand (e.g. for a heap profile): generate the chart first.
		writeLargeChart(t, dir, largeChartObjects)
	}
	stopSampling := sampleHeap(t, os.Getenv(envLargeHeapProfile))

	res := largeChildResult{Contender: contender}
	start := time.Now()
	switch contender {
	case contenderShakedown:
		r, err := Run(context.Background(), largeChartOptions(dir, versions))
		if err != nil {
			t.Fatal(err)
		}
		res.Objects, res.Runs, res.Failures, res.Summary = r.Objects, len(r.Cells()), r.Count().Errors, r.Summary()
	case contenderHelm:
		// The same matrix as shakedown's: what a user loops by hand,
		// `helm lint --strict -f values/<cloud>.yaml --kube-version V`.
		for _, cloud := range largeChartClouds {
			overlay, err := common.ReadValuesFile(filepath.Join(dir, "values", cloud+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range versions {
				kv, err := common.ParseKubeVersion(v)
				if err != nil {
					t.Fatal(err)
				}
				l := helmlint.RunAll(dir, overlay, "default", helmlint.WithKubeVersion(kv))
				res.Runs++
				for _, m := range l.Messages {
					if m.Severity >= support.WarningSev { // --strict: warnings fail too
						res.Failures++
						res.Summary += fmt.Sprintf("%s@%s/%s: %s; ", m.Path, cloud, v, oneLine(m.Err.Error()))
					}
				}
			}
		}
	case contenderIdle:
	default:
		t.Fatalf("%s=%q: want %s, %s or %s", envLargeContender, contender, contenderShakedown, contenderHelm, contenderIdle)
	}
	res.Seconds = time.Since(start).Seconds()
	stopSampling(&res)

	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if resultFile == "" {
		t.Logf("%s", data)
		return
	}
	if err := os.WriteFile(resultFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sampleHeap watches the live heap every 20 ms while the child works. When
// profile is set, it writes a heap profile there each time the live heap
// reaches a new high (by 5%), so the file holds the in-use heap near the peak
// rather than at the end. The returned function stops it and fills in the
// allocation figures.
func sampleHeap(t testing.TB, profile string) func(*largeChildResult) {
	names := []string{"/gc/heap/live:bytes", "/gc/heap/allocs:bytes", "/gc/cycles/total:gc-cycles"}
	read := func() []metrics.Sample {
		s := make([]metrics.Sample, len(names))
		for i, n := range names {
			s[i].Name = n
		}
		metrics.Read(s)
		return s
	}
	base := read()
	var (
		mu       sync.Mutex
		peak     uint64
		written  uint64
		done     = make(chan struct{})
		finished = make(chan struct{})
	)
	check := func() {
		live := read()[0].Value.Uint64()
		mu.Lock()
		defer mu.Unlock()
		peak = max(peak, live)
		if profile != "" && float64(live) > 1.05*float64(written) {
			written = live
			var buf bytes.Buffer
			if err := pprof.Lookup("heap").WriteTo(&buf, 0); err == nil {
				_ = os.WriteFile(profile, buf.Bytes(), 0o644)
			}
		}
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				check()
			}
		}
	}()
	return func(r *largeChildResult) {
		close(done)
		<-finished
		check()
		end := read()
		r.PeakLiveMB = float64(peak) / (1 << 20)
		r.AllocMB = float64(end[1].Value.Uint64()-base[1].Value.Uint64()) / (1 << 20)
		r.GCs = end[2].Value.Uint64() - base[2].Value.Uint64()
	}
}

// runLargeChartChild runs one contender on the chart in dir in a fresh
// process and returns what it measured and its peak RSS. extraEnv is added to
// the child's environment (e.g. a heap profile path).
func runLargeChartChild(tb testing.TB, contender, dir string, versions []string, extraEnv ...string) largeChildRun {
	tb.Helper()
	resultFile := filepath.Join(tb.TempDir(), "result.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLargeChartChild$", "-test.count=1", "-test.timeout=20m")
	cmd.Env = append(os.Environ(), envLargeContender+"="+contender, envLargeDir+"="+dir,
		envLargeVersions+"="+strings.Join(versions, ","), envLargeResult+"="+resultFile)
	cmd.Env = append(cmd.Env, extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		tb.Fatalf("large-chart child %s: %v\n%s", contender, err, out.String())
	}
	data, err := os.ReadFile(resultFile)
	if err != nil {
		tb.Fatalf("large-chart child %s wrote no result (did it skip?): %v\n%s", contender, err, out.String())
	}
	run := largeChildRun{Wall: wall}
	if err := json.Unmarshal(data, &run.largeChildResult); err != nil {
		tb.Fatalf("large-chart child %s result: %v", contender, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok || runtime.GOOS != "linux" {
		tb.Skipf("peak RSS needs Linux rusage (ru_maxrss in KiB); have %s", runtime.GOOS)
	}
	run.PeakRSSMB = float64(ru.Maxrss) / 1024 // KiB on Linux
	run.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return run
}

// String renders a run for logs.
func (r largeChildRun) String() string {
	return fmt.Sprintf("%s: %d runs, %.2f s (%.2f s wall, %.2f s CPU), peak RSS %.0f MB, peak live heap %.0f MB, %.0f MB allocated in %d GCs, %d objects, %d failures",
		r.Contender, r.Runs, r.Seconds, r.Wall.Seconds(), r.CPU.Seconds(), r.PeakRSSMB, r.PeakLiveMB, r.AllocMB, r.GCs, r.Objects, r.Failures)
}
