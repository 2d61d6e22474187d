package lint

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// sourceVersions keeps these tests to one render per cell.
var sourceVersions = []string{"1.34.4"}

// expandInTestDir makes the test's packaged charts expand under a directory
// of the test, which the test removes whether or not Run does.
func expandInTestDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
}

// packageChart packages the chart directory dir into outDir, like `helm package`.
func packageChart(t *testing.T, dir, outDir string) string {
	t.Helper()
	ch, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	tgz, err := chartutil.Save(ch, outDir)
	if err != nil {
		t.Fatalf("package %s: %v", dir, err)
	}
	return tgz
}

// configMapChart is a chart rendering one ConfigMap named after the chart.
func configMapChart(name string) map[string]string {
	return map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: " + name + "\nversion: 0.1.0\n",
		"values.yaml":       "{}\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}-cm\ndata: {k: v}\n",
	}
}

// wantInvalid fails unless err is an ErrInvalidOptions containing every want.
func wantInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("error = %v, want an ErrInvalidOptions", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestPackagedChartLintsLikeItsDirectory(t *testing.T) {
	expandInTestDir(t)
	// A Deployment without probes, resources or pinned image, and a
	// dependency missing from charts/ (which helm lint reports with the
	// chart's absolute directory as its path): findings to compare.
	dir := writeChart(t, map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: packed\nversion: 1.2.3\ndependencies: [{name: absent, version: 0.1.0, repository: oci://registry.invalid/absent}]\n",
		"values.yaml": "{}\n",
		"templates/web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:latest
`,
	})
	tgz := packageChart(t, dir, t.TempDir())
	fromDir := lintChart(t, Options{ChartDir: dir, KubeVersions: sourceVersions})
	fromTgz := lintChart(t, Options{ChartDir: tgz, KubeVersions: sourceVersions})
	if len(fromDir.Findings) == 0 {
		t.Fatal("the chart was meant to have findings to compare")
	}
	if !reflect.DeepEqual(fromTgz.Findings, fromDir.Findings) {
		t.Errorf("findings of %s differ from its directory's:\n tgz: %+v\n dir: %+v", filepath.Base(tgz), fromTgz.Findings, fromDir.Findings)
	}
	if fromTgz.Objects != fromDir.Objects || !slices.Equal(fromTgz.Clouds, []string{DefaultCloud}) {
		t.Errorf("tgz: %d objects, clouds %v; directory: %d objects", fromTgz.Objects, fromTgz.Clouds, fromDir.Objects)
	}
	if fs := fromTgz.Find(RuleHelmLint); !slices.ContainsFunc(fs, func(f Finding) bool {
		return f.File == "Chart.yaml" && strings.Contains(f.Message, "missing these dependencies: absent")
	}) {
		t.Errorf("want the missing dependency reported on Chart.yaml; helm lint findings: %+v", fs)
	}
	if fromTgz.Chart != tgz {
		t.Errorf("Report.Chart = %q, want the archive %q", fromTgz.Chart, tgz)
	}

	// The archive is expanded for the run and removed by cleanup.
	p, err := Options{ChartDir: tgz, KubeVersions: sourceVersions}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.loadDir, "Chart.yaml")); err != nil || p.chartDir != tgz {
		t.Fatalf("plan: chart %s loaded from %s: %v", p.chartDir, p.loadDir, err)
	}
	p.cleanup()
	if _, err := os.Stat(p.tempDir); !os.IsNotExist(err) {
		t.Errorf("expanded chart %s left behind after cleanup (stat: %v)", p.tempDir, err)
	}
}

func TestNotAChartIsAnInvalidOption(t *testing.T) {
	expandInTestDir(t)
	notChart := filepath.Join(t.TempDir(), "notes.tgz")
	if err := os.WriteFile(notChart, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{notChart, t.TempDir(), filepath.Join(t.TempDir(), "absent")} {
		_, err := Run(t.Context(), Options{ChartDir: chart, KubeVersions: sourceVersions})
		wantInvalid(t, err, chart, "packaged chart (.tgz)")
	}
}

func TestVendoredDependenciesRenderWithoutFetching(t *testing.T) {
	expandInTestDir(t)
	parent := writeChart(t, map[string]string{
		"Chart.yaml": `apiVersion: v2
name: parent
version: 0.1.0
dependencies:
  - name: fromoci
    version: 0.1.0
    repository: oci://registry.invalid/x
  - name: sub
    version: 0.1.0
    repository: file://../sub
  - name: vendored
    version: 0.1.0
`,
		"values.yaml":       "{}\n",
		"templates/cm.yaml": configMapChart("parent")["templates/cm.yaml"],
	})
	charts := filepath.Join(parent, "charts")
	packageChart(t, writeChart(t, configMapChart("fromoci")), charts)
	packageChart(t, writeChart(t, configMapChart("sub")), charts)
	if err := os.CopyFS(filepath.Join(charts, "vendored"), os.DirFS(writeChart(t, configMapChart("vendored")))); err != nil {
		t.Fatal(err)
	}
	want := []string{"charts/fromoci/templates/cm.yaml", "charts/sub/templates/cm.yaml", "charts/vendored/templates/cm.yaml", "templates/cm.yaml"}

	for name, chart := range map[string]string{"directory": parent, "packaged": packageChart(t, parent, t.TempDir())} {
		t.Run(name, func(t *testing.T) {
			r := lintChart(t, Options{ChartDir: chart, KubeVersions: sourceVersions})
			for _, f := range r.Findings {
				if f.Failing() {
					t.Errorf("%s %s %s: %s", f.Rule, f.File, f.Object, f.Message)
				}
			}
			if r.Objects != len(want) {
				t.Errorf("objects = %d, want the parent's ConfigMap and one per subchart (%d)", r.Objects, len(want))
			}

			p, err := Options{ChartDir: chart, KubeVersions: sourceVersions}.resolve()
			if err != nil {
				t.Fatal(err)
			}
			defer p.cleanup()
			l, err := newLinter(p)
			if err != nil {
				t.Fatal(err)
			}
			c := l.newCell(p.overlays[0], p.versions[0])
			files, ok := c.render(t.Context())
			if !ok {
				t.Fatalf("render failed: %+v", c.findings)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("rendered %q, want %q", got, want)
			}
		})
	}
}

func TestChartValuesDirIsNotTakenForOverlays(t *testing.T) {
	files := configMapChart("thirdparty")
	files["values/foo.yaml"] = "replicas: 3\n"
	dir := writeChart(t, files)
	r := lintChart(t, Options{ChartDir: dir, KubeVersions: sourceVersions})
	if !slices.Equal(r.Clouds, []string{DefaultCloud}) {
		t.Errorf("clouds = %v, want the one %q cell: values/ is not named as overlays", r.Clouds, DefaultCloud)
	}
	// Asking for the default cell by name still works on any chart.
	r = lintChart(t, Options{ChartDir: dir, KubeVersions: sourceVersions, Clouds: []string{DefaultCloud}})
	if !slices.Equal(r.Clouds, []string{DefaultCloud}) {
		t.Errorf("clouds = %v, want [%s]", r.Clouds, DefaultCloud)
	}
}

func TestCloudWithoutOverlaysIsAnInvalidOption(t *testing.T) {
	dir := writeChart(t, configMapChart("plain"))
	_, err := Run(t.Context(), Options{ChartDir: dir, KubeVersions: sourceVersions, Clouds: []string{"aws"}})
	wantInvalid(t, err, "has no cloud overlays", `"aws"`, "--overlays DIR", overlaysFileName)
}

// extraChart renders one ConfigMap, and a second when .Values.extra is set.
func extraChart(t *testing.T) string {
	files := configMapChart("extra")
	files["templates/extra.yaml"] = "{{- if .Values.extra }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata: {k: v}\n{{- end }}\n"
	return writeChart(t, files)
}

// writeOverlays writes <cloud>.yaml files into dir.
func writeOverlays(t *testing.T, dir string, overlays map[string]string) {
	t.Helper()
	for cloud, content := range overlays {
		writeFile(t, filepath.Join(dir, cloud+".yaml"), content)
	}
}

// writeFile writes content to path, creating its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOverlayDirOutsideTheChart(t *testing.T) {
	chart := extraChart(t)
	overlays := t.TempDir()
	writeOverlays(t, overlays, map[string]string{"aws": "extra: true\n", "gcp": "extra: false\n"})
	r := lintChart(t, Options{ChartDir: chart, KubeVersions: sourceVersions, OverlayDir: overlays})
	if !slices.Equal(r.Clouds, []string{"aws", "gcp"}) {
		t.Errorf("clouds = %v, want [aws gcp]", r.Clouds)
	}
	if r.Objects != 3 {
		t.Errorf("objects = %d, want 2 on aws (extra: true) + 1 on gcp", r.Objects)
	}

	_, err := Run(t.Context(), Options{ChartDir: chart, KubeVersions: sourceVersions, OverlayDir: overlays, Clouds: []string{"azure"}})
	wantInvalid(t, err, `no overlay for cloud "azure"`, "overlays found: aws, gcp")

	_, err = Run(t.Context(), Options{ChartDir: chart, KubeVersions: sourceVersions, OverlayDir: filepath.Join(overlays, "absent")})
	wantInvalid(t, err, "overlay directory", "absent", "--overlays")

	_, err = Run(t.Context(), Options{ChartDir: chart, KubeVersions: sourceVersions, OverlayDir: t.TempDir()})
	wantInvalid(t, err, "holds no <cloud>.yaml file")
}

func TestFixturesOverlayMapIsHonoured(t *testing.T) {
	expandInTestDir(t)
	root := t.TempDir()
	chart := filepath.Join(root, "charts", "app")
	if err := os.CopyFS(chart, os.DirFS(extraChart(t))); err != nil {
		t.Fatal(err)
	}
	writeOverlays(t, filepath.Join(chart, "values"), map[string]string{"notacloud": "extra: true\n"})
	writeOverlays(t, filepath.Join(root, "deploy", "overlays"), map[string]string{"aws": "extra: true\n", "k3s": "{}\n"})
	other := filepath.Join(root, "charts", "other")
	if err := os.CopyFS(other, os.DirFS(extraChart(t))); err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(root, "dist")
	tgz := packageChart(t, chart, dist)
	overlayMap := filepath.Join(root, overlaysFileName)
	writeFile(t, overlayMap, `# test map
charts:
  charts/app: deploy/overlays
  dist/extra-0.1.0.tgz: deploy/overlays
`)

	for name, tc := range map[string]struct {
		opts   Options
		clouds []string
	}{
		"mapped":            {Options{ChartDir: chart}, []string{"aws", "k3s"}},
		"mapped packaged":   {Options{ChartDir: tgz}, []string{"aws", "k3s"}},
		"not mapped":        {Options{ChartDir: other}, []string{DefaultCloud}},
		"--overlays wins":   {Options{ChartDir: chart, OverlayDir: filepath.Join(chart, "values")}, []string{"notacloud"}},
		"one mapped cloud":  {Options{ChartDir: chart, Clouds: []string{"k3s"}}, []string{"k3s"}},
		"default by name":   {Options{ChartDir: chart, Clouds: []string{DefaultCloud}}, []string{DefaultCloud}},
		"relative chart ok": {Options{ChartDir: relPath(t, chart)}, []string{"aws", "k3s"}},
	} {
		t.Run(name, func(t *testing.T) {
			tc.opts.KubeVersions = sourceVersions
			r := lintChart(t, tc.opts)
			if !slices.Equal(r.Clouds, tc.clouds) {
				t.Errorf("clouds = %v, want %v", r.Clouds, tc.clouds)
			}
		})
	}

	writeFile(t, overlayMap, "charts:\n  charts/app: deploy/missing\n")
	_, err := Run(t.Context(), Options{ChartDir: chart, KubeVersions: sourceVersions})
	wantInvalid(t, err, overlayMap, "deploy/missing", "fix the path")

	writeFile(t, overlayMap, "chart:\n  charts/app: deploy/overlays\n")
	_, err = Run(t.Context(), Options{ChartDir: chart, KubeVersions: sourceVersions})
	wantInvalid(t, err, "overlay map", "expected {charts:")
}

// relPath returns path relative to the working directory.
func relPath(t *testing.T, path string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}
