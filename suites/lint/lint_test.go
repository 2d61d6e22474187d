package lint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// brokenVersions are a 1.22-era cluster and a current one.
var brokenVersions = []string{"1.22.17", "1.34.4"}

func TestBrokenChartFailsWithTheRightRules(t *testing.T) {
	r := lintChart(t, Options{ChartDir: "testdata/broken", KubeVersions: brokenVersions})
	if !r.Failed() {
		t.Fatal("broken chart passed lint")
	}
	cases := []struct {
		rule, kind, name, want, field string
	}{
		{RuleResources, "Deployment", "web", "requests.cpu, requests.memory, limits.memory", "spec.template.spec.containers[0].resources"},
		{RuleProbes, "Deployment", "web", "no livenessProbe and no readinessProbe", ""},
		{RuleRunAsNonRoot, "Deployment", "web", "runAsNonRoot: true", ""},
		{RuleReadOnlyRootFS, "Deployment", "web", "readOnlyRootFilesystem", ""},
		{RuleNoPrivEscalation, "Deployment", "web", "allowPrivilegeEscalation: false", ""},
		{RulePinnedImage, "Deployment", "web", `"nginx:latest" uses the mutable tag latest`, "spec.template.spec.containers[0].image"},
		{RulePDB, "Deployment", "web", "runs 3 replicas but no PodDisruptionBudget", ""},
		{RuleNetworkPolicy, "Deployment", "web", "no NetworkPolicy selects the pods of Deployment/web (labels app=web)", ""},
		{RuleNetworkPolicy, "DaemonSet", "agent", "no NetworkPolicy selects", ""},
		{RuleHostAccess, "DaemonSet", "agent", `container "agent" runs privileged`, "spec.template.spec.containers[0].securityContext.privileged"},
		{RuleHostAccess, "DaemonSet", "agent", "hostNetwork: true", "spec.template.spec.hostNetwork"},
		{RuleHostAccess, "DaemonSet", "agent", `volume "host" mounts host path /`, ""},
		{RuleUnknownField, "Deployment", "web", "imagePullPolcy: field not declared in the schema of apps/v1 Deployment", "spec.template.spec.containers[0].imagePullPolcy"},
		{RuleDuplicateKey, "Deployment", "web", `key "image" already set`, "image"},
		{RuleDecode, "ConfigMap", "config", "data[port]: Invalid type: got integer, want string", "data[port]"},
		{RuleAPIRemoved, "HorizontalPodAutoscaler", "web", "autoscaling/v2beta2 HorizontalPodAutoscaler was removed in Kubernetes 1.26; use autoscaling/v2", "apiVersion"},
		{RuleNotSchemaCheck, "ServiceMonitor", "web", "not schema-checked", ""},
		{RuleEncryptedStorage, "PersistentVolumeClaim", "data", `storage class "gp2"`, "spec.storageClassName"},
	}
	for _, tc := range cases {
		t.Run(tc.rule+"/"+tc.kind+"/"+tc.want, func(t *testing.T) {
			f := mustFind(t, r, tc.rule, tc.kind, tc.name, tc.want)
			if tc.field != "" && f.Field != tc.field {
				t.Errorf("field = %q, want %q", f.Field, tc.field)
			}
			if f.File == "" || !strings.HasPrefix(f.File, "templates/") {
				t.Errorf("file = %q, want the template that rendered it", f.File)
			}
			if want := ruleIndex()[tc.rule].Severity; f.Severity != want || f.Waived {
				t.Errorf("severity = %s (waived %v), want %s unwaived", f.Severity, f.Waived, want)
			}
			if f.Fix == "" {
				t.Error("finding has no fix")
			}
		})
	}
}

func TestRemovedAPIOnlyOnVersionsThatRemovedIt(t *testing.T) {
	r := lintChart(t, Options{ChartDir: "testdata/broken", KubeVersions: brokenVersions})
	removed := findingsOf(r, RuleAPIRemoved, "HorizontalPodAutoscaler", "web")
	if len(removed) != 1 {
		t.Fatalf("want one merged SD110 finding for the HPA, got %d", len(removed))
	}
	for _, c := range removed[0].Cells {
		if c.KubeVersion != "1.34.4" {
			t.Errorf("SD110 reported on %s, which still serves autoscaling/v2beta2", c)
		}
	}
	if got, want := cellsText(removed[0].Cells), "aws@1.34.4,k3s@1.34.4"; got != want {
		t.Errorf("SD110 cells = %s, want %s", got, want)
	}
	// On 1.22 the apiVersion is still served, and checked by 1.22's own
	// OpenAPI schema although the client library no longer has it.
	if notices := findingsOf(r, RuleNotSchemaCheck, "HorizontalPodAutoscaler", "web"); len(notices) != 0 {
		t.Errorf("the HPA should be schema-checked on 1.22.17 by its OpenAPI spec, got %+v", notices)
	}
}

func TestStorageEncryptionOnlyOnCloudsThatSupportIt(t *testing.T) {
	r := lintChart(t, Options{ChartDir: "testdata/broken", KubeVersions: brokenVersions})
	fs := findingsOf(r, RuleEncryptedStorage, "PersistentVolumeClaim", "data")
	if len(fs) != 1 {
		t.Fatalf("want one SD009 finding, got %d", len(fs))
	}
	for _, c := range fs[0].Cells {
		if c.Cloud != "aws" {
			t.Errorf("SD009 reported on %s; k3s has no encryption at rest to ask for", c)
		}
	}
}

func TestWaivedRuleIsReportedAsWaived(t *testing.T) {
	r := lintChart(t, Options{ChartDir: "testdata/broken", KubeVersions: brokenVersions})
	f := mustFind(t, r, RuleReadOnlyRootFS, "DaemonSet", "agent", "readOnlyRootFilesystem")
	if !f.Waived || f.Failing() {
		t.Fatalf("SD004 on DaemonSet/agent: waived=%v failing=%v, want waived and not failing", f.Waived, f.Failing())
	}
	if f.WaiverReason != "the agent writes to its root filesystem" {
		t.Errorf("waiver reason = %q", f.WaiverReason)
	}
	if c := r.Count(); c.Waived != 1 {
		t.Errorf("count of waived findings = %d, want 1", c.Waived)
	}
	// SD010 is not waived by the annotation and still fails.
	if f := mustFind(t, r, RuleHostAccess, "DaemonSet", "agent", "privileged"); !f.Failing() {
		t.Error("SD010 on the agent should still fail: it is not in the waive list")
	}

	byRule := map[string]Waiver{}
	for _, w := range r.Waivers {
		if w.Object.Name == "agent" {
			byRule[w.Rule] = w
		}
	}
	if w := byRule["SD004"]; w.Used != 4 || w.Problem != "" || w.Reason == "" {
		t.Errorf("SD004 waiver = %+v, want used in all 4 cells, with its reason, no problem", w)
	}
	if w := byRule["SD999"]; !strings.Contains(w.Problem, "unknown rule SD999") {
		t.Errorf("SD999 waiver problem = %q, want unknown rule", w.Problem)
	}
	if w := byRule["SD110"]; !strings.Contains(w.Problem, "cannot be waived") {
		t.Errorf("SD110 waiver problem = %q, want cannot be waived", w.Problem)
	}
}

func TestGoodChartPasses(t *testing.T) {
	r := lintChart(t, Options{ChartDir: "testdata/good"})
	for _, f := range r.Findings {
		if f.Severity != SeverityNotice {
			t.Errorf("unexpected %s %s %s: %s", f.Severity, f.Rule, f.Object, f.Message)
		}
	}
	if r.Failed() {
		t.Fatal("good chart failed lint")
	}
	if got := len(r.Clouds) * len(r.KubeVersions); got != 15 {
		t.Errorf("matrix = %v × %v, want 5 overlays × 3 versions", r.Clouds, r.KubeVersions)
	}
	// Custom resources are listed, not silently passed.
	f := mustFind(t, r, RuleNotSchemaCheck, "ServiceMonitor", "shakedown-api", "not schema-checked")
	if len(f.Cells) != 15 {
		t.Errorf("ServiceMonitor notice in %d cells, want all 15", len(f.Cells))
	}
	// 8 objects per render: Deployment, Service, PDB, HPA, StatefulSet,
	// NetworkPolicy, ServiceMonitor, Job; plus the StorageClass on aws.
	if want := 15*8 + 3; r.Objects != want {
		t.Errorf("objects checked = %d, want %d", r.Objects, want)
	}
}

func TestDefaultVersionsComeFromTheMatrixFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", matrixFileName))
	if err != nil {
		t.Fatalf("read the project's version matrix: %v", err)
	}
	r := lintChart(t, Options{ChartDir: "testdata/good", Clouds: []string{"k3s"}})
	for _, v := range r.KubeVersions {
		if !strings.Contains(string(data), v) {
			t.Errorf("version %s is not in %s", v, matrixFileName)
		}
	}
	if len(r.KubeVersions) == 0 {
		t.Fatal("no versions")
	}

	custom := filepath.Join(t.TempDir(), "k.yaml")
	if err := os.WriteFile(custom, []byte("versions: [1.29.1, \"1.31\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = lintChart(t, Options{ChartDir: "testdata/good", Clouds: []string{"k3s"}, MatrixFile: custom})
	if !slices.Equal(r.KubeVersions, []string{"1.29.1", "1.31"}) {
		t.Errorf("versions from %s = %v", custom, r.KubeVersions)
	}
}

func TestCapabilitiesFollowTheKubernetesVersion(t *testing.T) {
	// The good chart renders policy/v1 or policy/v1beta1 PDBs by
	// .Capabilities.APIVersions.Has "policy/v1", which 1.21 introduced.
	for version, want := range map[string]string{"1.20.15": "policy/v1beta1", "1.21.0": "policy/v1", "1.34.4": "policy/v1"} {
		if got := renderedAPIVersion(t, "testdata/good", version, "PodDisruptionBudget"); got != want {
			t.Errorf("PDB rendered for %s as %s, want %s", version, got, want)
		}
	}
	r := lintChart(t, Options{ChartDir: "testdata/good", Clouds: []string{"k3s"}, KubeVersions: []string{"1.20.15", "1.34.4"}})
	if fs := r.Find(RulePDB); len(fs) != 0 {
		t.Errorf("the policy/v1beta1 PDB should satisfy SD007 on 1.20: %+v", fs)
	}
	// autoscaling/v2 is not served before 1.23.
	mustFind(t, r, RuleAPINotYet, "HorizontalPodAutoscaler", "shakedown-api", "autoscaling/v2 HorizontalPodAutoscaler is not served before Kubernetes 1.23")
}

func TestUnknownCloudAndBadVersionAreRunErrors(t *testing.T) {
	for name, opts := range map[string]Options{
		"cloud":   {ChartDir: "testdata/good", Clouds: []string{"mars"}},
		"version": {ChartDir: "testdata/good", KubeVersions: []string{"one.two"}},
		"chart":   {ChartDir: "testdata/nope"},
		"values":  {ChartDir: "testdata/good", ValuesFiles: []string{"testdata/nope.yaml"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Run(t.Context(), opts); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestExtraAPIVersionsReachTheTemplates(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: gated\nversion: 0.1.0\n",
		"templates/monitor.yaml": `{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: gated
spec:
  endpoints: [{port: http}]
{{- end }}
`,
	})
	r := lintChart(t, Options{ChartDir: dir, KubeVersions: []string{"1.34.4"}})
	if len(r.Find(RuleNotSchemaCheck)) != 0 || r.Objects != 0 {
		t.Fatalf("ServiceMonitor rendered without the API being declared: %+v", r.Findings)
	}
	r = lintChart(t, Options{ChartDir: dir, KubeVersions: []string{"1.34.4"}, APIVersions: []string{"monitoring.coreos.com/v1/ServiceMonitor"}})
	mustFind(t, r, RuleNotSchemaCheck, "ServiceMonitor", "gated", "not schema-checked")
}
