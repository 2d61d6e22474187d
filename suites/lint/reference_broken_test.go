package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// brokenTemplate adds objects to the chart that break known rules in known places.
const brokenTemplate = `apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata:
  name: legacy-hpa
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: debug}
  minReplicas: 1
  maxReplicas: 3
---
apiVersion: flowcontrol.apiserver.k8s.io/v1beta2
kind: FlowSchema
metadata:
  name: legacy-flowschema
spec:
  priorityLevelConfiguration: {name: workload-low}
  matchingPrecedence: 1000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: debug
spec:
  replicaz: 2
  replicas: 2
  selector: {matchLabels: {app: debug}}
  template:
    metadata: {labels: {app: debug}}
    spec:
      containers:
        - name: shell
          image: busybox:latest
          securityContext: {privileged: true}
`

// copyChart copies the reference chart into a temporary directory.
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "reference-stack")
	if err := os.CopyFS(dst, os.DirFS(referenceChart)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// editFile replaces old with new in path and fails if old is absent.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s no longer contains %q: update this test's breakage", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A deliberately broken copy of the reference chart fails with the right rule IDs,
// on the right objects, clouds and Kubernetes versions.
func TestBrokenCopyOfReferenceChartFailsWithRuleIDs(t *testing.T) {
	chart := copyChart(t)
	editFile(t, filepath.Join(chart, "templates", "app-deployment.yaml"),
		"toYaml $.Values.securityContext |", `toYaml (omit $.Values.securityContext "readOnlyRootFilesystem") |`)
	editFile(t, filepath.Join(chart, "values", "aws.yaml"), `encrypted: "true"`, `encrypted: "false"`)
	if err := os.WriteFile(filepath.Join(chart, "templates", "zz-broken.yaml"), []byte(brokenTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	r := lintChart(t, Options{ChartDir: chart, KubeVersions: []string{"1.28.15", "1.34.4"}, OverlayDir: filepath.Join(chart, "values")})
	if !r.Failed() {
		t.Fatal("the broken chart passed lint")
	}

	// Removed APIs: autoscaling/v2beta2 is gone on both versions, flowcontrol v1beta2 only on 1.34.
	hpa := mustFind(t, r, "SD110", "HorizontalPodAutoscaler", "legacy-hpa", "autoscaling/v2")
	if !strings.Contains(cellsText(hpa.Cells), "1.28.15") || !strings.Contains(cellsText(hpa.Cells), "1.34.4") {
		t.Errorf("autoscaling/v2beta2 should fail on 1.28 and 1.34, failed on %s", cellsText(hpa.Cells))
	}
	fl := mustFind(t, r, "SD110", "FlowSchema", "legacy-flowschema", "1.29")
	if strings.Contains(cellsText(fl.Cells), "1.28.15") || !strings.Contains(cellsText(fl.Cells), "1.34.4") {
		t.Errorf("flowcontrol v1beta2 should fail on 1.34 only, failed on %s", cellsText(fl.Cells))
	}

	mustFind(t, r, "SD102", "Deployment", "debug", "replicaz")
	mustFind(t, r, "SD006", "Deployment", "debug", "latest")
	mustFind(t, r, "SD010", "Deployment", "debug", "privileged")
	mustFind(t, r, "SD001", "Deployment", "debug", "")
	mustFind(t, r, "SD002", "Deployment", "debug", "")
	mustFind(t, r, "SD007", "Deployment", "debug", "")

	// The edit to the app template reaches every app Deployment.
	readOnly := 0
	for _, f := range r.Find("SD004") {
		if f.Object.Kind == "Deployment" && f.Object.Name != "debug" {
			readOnly++
		}
	}
	if readOnly < 3 {
		t.Errorf("SD004 found on %d of the chart's Deployments, want capture, worker and decide", readOnly)
	}

	// Unencrypted storage fails on aws only.
	sd009 := r.Find("SD009")
	if len(sd009) == 0 {
		t.Fatal("no SD009 for the unencrypted aws storage class")
	}
	for _, f := range sd009 {
		if c := cellsText(f.Cells); !strings.Contains(c, "aws") || strings.Contains(c, "gcp") {
			t.Errorf("SD009 on %s/%s in cells %s, want aws only", f.Object.Kind, f.Object.Name, c)
		}
	}
	// Rules the break did not touch stay quiet on the chart's own objects.
	for _, f := range r.Find("SD003") {
		if f.Object.Name != "debug" {
			t.Errorf("unexpected SD003 on %s/%s", f.Object.Kind, f.Object.Name)
		}
	}
}
