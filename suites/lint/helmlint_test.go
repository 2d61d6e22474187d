package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeChart writes files (path -> content) as a chart in a temp directory.
func writeChart(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const configMapTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  tag: {{ required "image.tag is required" .Values.image.tag | quote }}
`

func TestHelmLintWarningsAreErrorsInStrictMode(t *testing.T) {
	dir := writeChart(t, map[string]string{
		// "1.0" is accepted by helm lint but warned about: not strict SemVer 2.
		"Chart.yaml":               "apiVersion: v2\nname: loose\nversion: \"1.0\"\n",
		"values.yaml":              "image: {tag: \"1.0.0\"}\n",
		"templates/configmap.yaml": configMapTemplate,
	})
	r := lintChart(t, Options{ChartDir: dir, KubeVersions: []string{"1.34.4"}})
	var found bool
	for _, f := range r.Find(RuleHelmLint) {
		if f.File == "Chart.yaml" && strings.Contains(f.Message, "SemVerV2") {
			found = true
			if !f.Failing() || !strings.Contains(f.Message, "warning, an error in strict mode") {
				t.Errorf("helm lint warning not strict: %+v", f)
			}
		}
	}
	if !found {
		t.Fatalf("no SD100 finding about the version; findings: %+v", r.Findings)
	}
	if !r.Failed() {
		t.Error("a helm lint warning must fail the run")
	}
}

func TestRenderFailureIsAnError(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: needs-tag\nversion: 0.1.0\n",
		"values.yaml":              "image: {}\n",
		"values/aws.yaml":          "image: {tag: \"1.0.0\"}\n",
		"values/k3s.yaml":          "{}\n",
		"templates/configmap.yaml": configMapTemplate,
	})
	r := lintChart(t, Options{ChartDir: dir, KubeVersions: []string{"1.34.4"}, OverlayDir: filepath.Join(dir, "values")})
	fs := r.Find(RuleRender)
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "image.tag is required") || cellsText(fs[0].Cells) != "k3s@1.34.4" {
		t.Fatalf("want one SD105 on k3s naming the missing value, got %+v", fs)
	}
	if !fs[0].Failing() {
		t.Error("a render failure must fail the run")
	}
}

func TestValuesFilesOverrideTheOverlay(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: needs-tag\nversion: 0.1.0\n",
		"values.yaml":              "image: {}\n",
		"values/k3s.yaml":          "{}\n",
		"templates/configmap.yaml": configMapTemplate,
	})
	user := filepath.Join(dir, "user.yaml")
	if err := os.WriteFile(user, []byte("image: {tag: \"2.0.0\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := lintChart(t, Options{ChartDir: dir, KubeVersions: []string{"1.34.4"}, ValuesFiles: []string{user}, OverlayDir: filepath.Join(dir, "values")})
	if fs := r.Find(RuleRender); len(fs) != 0 {
		t.Fatalf("--values should supply image.tag: %+v", fs)
	}
}
