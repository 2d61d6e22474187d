package kubeschema

import (
	"strings"
	"testing"
)

// validObjects are correct on 1.28 and 1.34: int-or-string both ways,
// quantities as numbers, nulls for optional fields, label maps.
var validObjects = map[string]string{
	"Deployment": `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  creationTimestamp: null
  labels: {app: web, app.kubernetes.io/part-of: shop}
  annotations: {checksum/config: abc}
spec:
  replicas: 2
  revisionHistoryLimit: null
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      nodeSelector: null
      securityContext: {runAsNonRoot: true, fsGroup: 2000}
      containers:
      - name: web
        image: nginx:1.27
        imagePullPolicy: IfNotPresent
        args: ["--port", "8080"]
        env:
        - {name: MODE, value: "prod"}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        resources:
          requests: {cpu: 1, memory: 128Mi}
          limits: {cpu: 1.5, memory: 1Gi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 5
        livenessProbe:
          tcpSocket: {port: 8080}
        volumeMounts:
        - {name: config, mountPath: /etc/web, readOnly: true}
      - name: sidecar
        image: busybox:1.36
        resources: null
      volumes:
      - name: config
        configMap: {name: web, defaultMode: 0644}
`,
	"Service": `
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  type: ClusterIP
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: admin, port: 9090, targetPort: 9090, protocol: TCP}
`,
	"ConfigMap": `
apiVersion: v1
kind: ConfigMap
metadata: {name: web}
data:
  app.properties: "a=1"
  empty: ""
binaryData:
  blob: aGVsbG8=
`,
	"Secret": `
apiVersion: v1
kind: Secret
metadata: {name: web-tls}
type: kubernetes.io/tls
data:
  tls.crt: LS0tLS1CRUdJTi0tLS0t
  tls.key: ""
stringData:
  password: not base64 at all!
`,
	"Ingress": `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations: {nginx.ingress.kubernetes.io/rewrite-target: /}
spec:
  ingressClassName: nginx
  tls:
  - hosts: [shop.example.com]
    secretName: web-tls
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
      - path: /admin
        pathType: Exact
        backend:
          service: {name: web, port: {name: admin}}
`,
	"HorizontalPodAutoscaler": `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 70}
  - type: Resource
    resource:
      name: memory
      target: {type: AverageValue, averageValue: 512Mi}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
      policies:
      - {type: Percent, value: 50, periodSeconds: 60}
`,
	"CronJob": `
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "*/5 * * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: busybox:1.36
            command: [sh, -c, "date"]
            resources:
              limits: {memory: 64Mi, cpu: 100m}
`,
	"PodDisruptionBudget": `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 50%
  selector:
    matchLabels: {app: web}
`,
	"PodDisruptionBudget-int": `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  maxUnavailable: 1
  selector:
    matchExpressions:
    - {key: app, operator: In, values: [web]}
`,
	"NetworkPolicy": `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector:
    matchLabels: {app: web}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: ingress-nginx}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports:
    - {protocol: TCP, port: 8080}
    - {protocol: TCP, port: http}
  egress:
  - {}
`,
}

func TestValidObjectsHaveNoProblems(t *testing.T) {
	objects := map[string]string{"CustomResourceDefinition": widgetCRD}
	for name, doc := range validObjects {
		objects[name] = doc
	}
	for _, version := range []string{newVersion, oldVersion} {
		sp := loadSpec(t, version)
		for name, doc := range objects {
			t.Run(version+"/"+name, func(t *testing.T) {
				if problems := check(t, sp, doc); len(problems) > 0 {
					t.Errorf("want no problems, got:\n%s", list(problems))
				}
			})
		}
	}
}

const service = `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: %TYPE%
  selector: {app: web}
  ports:
  - {name: http, targetPort: 8080}
`

func TestServicePortWithoutPortIsRequired(t *testing.T) {
	for _, version := range []string{newVersion, oldVersion} {
		problems := check(t, loadSpec(t, version), strings.ReplaceAll(service, "%TYPE%", "ClusterIP"))
		p := mustFind(t, problems, "spec.ports[0].port", Required)
		if p.String() != "spec.ports[0].port: Required value" {
			t.Errorf("message = %q", p.String())
		}
		if len(problems) != 1 {
			t.Errorf("want 1 problem, got:\n%s", list(problems))
		}
	}
}

func TestDeploymentWithoutSelectorIsRequired(t *testing.T) {
	doc := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
`
	mustFind(t, check(t, loadSpec(t, newVersion), doc), "spec.selector", Required)
	// A null required field is as missing as an absent one.
	problems := check(t, loadSpec(t, newVersion), strings.Replace(doc, "spec:\n  template", "spec:\n  selector: null\n  template", 1))
	mustFind(t, problems, "spec.selector", Required)
}

func TestEnumValues(t *testing.T) {
	sp := loadSpec(t, newVersion)
	if !sp.HasEnums() {
		t.Fatal("1.34 spec has no enum source (pkg/generated/openapi/zz_generated.openapi.go)")
	}
	problems := check(t, sp, strings.ReplaceAll(service, "%TYPE%", "Loadbalancer"))
	p := mustFind(t, problems, "spec.type", Enum)
	want := `spec.type: Unsupported value: "Loadbalancer": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`
	if p.String() != want {
		t.Errorf("message\n got %q\nwant %q", p.String(), want)
	}
	// Enum items of a list, and a field of a container.
	problems = check(t, sp, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce, ReadWriteEverywhere]
  resources: {requests: {storage: 1Gi}}
`)
	mustFind(t, problems, "spec.accessModes[1]", Enum)
	problems = check(t, sp, strings.Replace(validObjects["Deployment"], "imagePullPolicy: IfNotPresent", "imagePullPolicy: always", 1))
	mustFind(t, problems, "spec.template.spec.containers[0].imagePullPolicy", Enum)
	// An empty enum value is defaulted by the API server, not refused.
	problems = check(t, sp, strings.Replace(validObjects["Deployment"], "imagePullPolicy: IfNotPresent", `imagePullPolicy: ""`, 1))
	if len(problems) != 0 {
		t.Errorf("empty imagePullPolicy: want no problems, got:\n%s", list(problems))
	}
}

func TestSecretDataMustBeBase64(t *testing.T) {
	problems := check(t, loadSpec(t, oldVersion), `
apiVersion: v1
kind: Secret
metadata: {name: web-tls}
data:
  tls.crt: "-----BEGIN CERTIFICATE-----"
`)
	p := mustFind(t, problems, "data[tls.crt]", Format)
	if !strings.Contains(p.Message, "illegal base64 data") {
		t.Errorf("message = %q", p.Message)
	}
}

func TestFormatsTypesAndRanges(t *testing.T) {
	sp := loadSpec(t, newVersion)
	problems := check(t, sp, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  creationTimestamp: yesterday
  labels: {app: 1}
spec:
  replicas: "three"
  minReadySeconds: 3000000000
  paused: "false"
  selector: {matchLabels: {app: web}}
  template:
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80.5}]
        resources: {limits: {cpu: 1x, memory: [1]}}
        readinessProbe: {httpGet: {port: true}}
`)
	mustFind(t, problems, "metadata.creationTimestamp", Format)
	mustFind(t, problems, "metadata.labels[app]", Type)
	p := mustFind(t, problems, "spec.replicas", Type)
	if p.Message != "Invalid type: got string, want integer" {
		t.Errorf("message = %q", p.Message)
	}
	mustFind(t, problems, "spec.minReadySeconds", Format)
	mustFind(t, problems, "spec.paused", Type)
	mustFind(t, problems, "spec.template.spec.containers[0].ports[0].containerPort", Type)
	mustFind(t, problems, "spec.template.spec.containers[0].resources.limits[cpu]", Format)
	mustFind(t, problems, "spec.template.spec.containers[0].resources.limits[memory]", Type)
	mustFind(t, problems, "spec.template.spec.containers[0].readinessProbe.httpGet.port", Type)
	if len(problems) != 9 {
		t.Errorf("want 9 problems, got:\n%s", list(problems))
	}
}

func TestUnknownFields(t *testing.T) {
	sp := loadSpec(t, newVersion)
	problems := check(t, sp, `
apiVersion: v1
kind: ConfigMap
metadata: {name: web, labelz: {app: web}}
spec: {}
data: {a: b}
`)
	p := mustFind(t, problems, "spec", Unknown)
	if want := "spec: field not declared in the schema of v1 ConfigMap on Kubernetes 1.34.4"; p.String() != want {
		t.Errorf("message\n got %q\nwant %q", p.String(), want)
	}
	mustFind(t, problems, "metadata.labelz", Unknown)
	if len(problems) != 2 {
		t.Errorf("want 2 problems, got:\n%s", list(problems))
	}
}

// A field added after 1.28 is unknown there and fine on 1.34: pod-level
// resources (PodSpec.resources, 1.32) and Service trafficDistribution (1.30).
func TestFieldOfNewerVersion(t *testing.T) {
	deployment := strings.Replace(validObjects["Deployment"], "      nodeSelector: null\n", "      resources: {limits: {cpu: 2}}\n", 1)
	svc := strings.Replace(validObjects["Service"], "  type: ClusterIP\n", "  type: ClusterIP\n  trafficDistribution: PreferClose\n", 1)
	newSpec, oldSpec := loadSpec(t, newVersion), loadSpec(t, oldVersion)
	for _, doc := range []string{deployment, svc} {
		if problems := check(t, newSpec, doc); len(problems) != 0 {
			t.Errorf("1.34: want no problems, got:\n%s", list(problems))
		}
	}
	p := mustFind(t, check(t, oldSpec, deployment), "spec.template.spec.resources", Unknown)
	if !strings.Contains(p.Message, "apps/v1 Deployment on Kubernetes 1.28.15") {
		t.Errorf("message = %q", p.Message)
	}
	mustFind(t, check(t, oldSpec, svc), "spec.trafficDistribution", Unknown)
}

func TestKindsNotInTheSpec(t *testing.T) {
	sp := loadSpec(t, oldVersion)
	for _, doc := range []string{
		"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
		"apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: w}\n",
		"apiVersion: apps/v1\nkind: Widget\nmetadata: {name: w}\n",
		"kind: ConfigMap\n",
	} {
		problems, ok, err := sp.Validate(object(t, doc))
		if err != nil || ok || problems != nil {
			t.Errorf("Validate(%q) = %v, %v, %v; want nil, false, nil", doc, problems, ok, err)
		}
	}
}

func TestServesAndAPIVersionsFor(t *testing.T) {
	oldSpec, newSpec := loadSpec(t, oldVersion), loadSpec(t, newVersion)
	for _, c := range []struct {
		sp               *Spec
		apiVersion, kind string
		want             bool
	}{
		{oldSpec, "apps/v1", "Deployment", true},
		{oldSpec, "v1", "Service", true},
		{oldSpec, "apps/v1", "Service", false},
		{oldSpec, "extensions/v1beta1", "Ingress", false},
		{oldSpec, "flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", true},
		{newSpec, "flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", false},
		{newSpec, "autoscaling/v2", "HorizontalPodAutoscaler", true},
		{oldSpec, "v1", "DeleteOptions", false},
	} {
		got, err := c.sp.Serves(c.apiVersion, c.kind)
		if err != nil || got != c.want {
			t.Errorf("%s Serves(%s, %s) = %v, %v; want %v", c.sp.Version(), c.apiVersion, c.kind, got, err, c.want)
		}
	}
	got, err := oldSpec.APIVersionsFor("flowcontrol.apiserver.k8s.io", "FlowSchema")
	if err != nil || strings.Join(got, " ") != "flowcontrol.apiserver.k8s.io/v1beta3 flowcontrol.apiserver.k8s.io/v1beta2" {
		t.Errorf("1.28 APIVersionsFor(flowcontrol, FlowSchema) = %v, %v", got, err)
	}
	got, err = newSpec.APIVersionsFor("flowcontrol.apiserver.k8s.io", "FlowSchema")
	if err != nil || strings.Join(got, " ") != "flowcontrol.apiserver.k8s.io/v1" {
		t.Errorf("1.34 APIVersionsFor(flowcontrol, FlowSchema) = %v, %v", got, err)
	}
	got, err = newSpec.APIVersionsFor("", "Service")
	if err != nil || strings.Join(got, " ") != "v1" {
		t.Errorf("1.34 APIVersionsFor(core, Service) = %v, %v", got, err)
	}
	// Serves after the group-version was parsed gives the same answer.
	check(t, oldSpec, validObjects["Deployment"])
	if ok, err := oldSpec.Serves("apps/v1", "StatefulSet"); !ok || err != nil {
		t.Errorf("Serves(apps/v1, StatefulSet) after parsing apps/v1 = %v, %v", ok, err)
	}
}

func TestValidateDoesNotChangeTheObject(t *testing.T) {
	obj := object(t, validObjects["Deployment"])
	before := object(t, validObjects["Deployment"])
	if _, _, err := loadSpec(t, newVersion).Validate(obj); err != nil {
		t.Fatal(err)
	}
	if got, want := list(nil), list(nil); got != want || len(obj) != len(before) {
		t.Fatal("object changed")
	}
	spec := obj["spec"].(map[string]any)
	if _, kept := spec["revisionHistoryLimit"]; !kept {
		t.Error("Validate dropped a null from the caller's object; it must work on a copy")
	}
}

// Objects of several group-versions validated at once while the spec parses
// their files.
func TestConcurrentValidate(t *testing.T) {
	sp := loadSpec(t, oldVersion)
	done := make(chan []Problem)
	names := []string{"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "CronJob", "PodDisruptionBudget", "NetworkPolicy", "Secret"}
	for range 3 {
		for _, name := range names {
			go func() {
				problems, ok, err := sp.Validate(object(t, validObjects[name]))
				if err != nil || !ok {
					problems = append(problems, Problem{Path: name, Message: "not validated"})
				}
				done <- problems
			}()
		}
	}
	for range 3 * len(names) {
		if problems := <-done; len(problems) != 0 {
			t.Errorf("want no problems, got:\n%s", list(problems))
		}
	}
}
