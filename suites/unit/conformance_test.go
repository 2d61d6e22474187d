package unit

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
)

// invocation is one run of a chart, given as the helm-unittest CLI flags it
// stands for.
type invocation struct {
	chart          string // relative to the copied test/data
	files          []string
	values         []string
	chartTestsPath string
	noSubcharts    bool
	strict         bool
}

func (in invocation) String() string {
	s := in.chart
	for _, f := range in.files {
		s += " -f " + f
	}
	for _, v := range in.values {
		s += " -v " + v
	}
	if in.chartTestsPath != "" {
		s += " --chart-tests-path " + in.chartTestsPath
	}
	if in.noSubcharts {
		s += " -s=false"
	}
	if in.strict {
		s += " --strict"
	}
	return s
}

func (in invocation) args() []string {
	args := []string{in.chart}
	for _, f := range in.files {
		args = append(args, "-f", f)
	}
	for _, v := range in.values {
		args = append(args, "-v", v)
	}
	if in.chartTestsPath != "" {
		args = append(args, "--chart-tests-path", in.chartTestsPath)
	}
	if in.noSubcharts {
		args = append(args, "--with-subchart=false")
	}
	if in.strict {
		args = append(args, "--strict")
	}
	return args
}

func (in invocation) options() Options {
	return Options{Charts: []string{in.chart}, TestFiles: in.files, ValuesFiles: in.values, ChartTestsPath: in.chartTestsPath,
		SkipSubcharts: in.noSubcharts, Strict: in.strict, Worker: testWorker}
}

// extraInvocations are the flag combinations helm-unittest's own runner
// tests use on its test charts, beyond the default run of every chart.
var extraInvocations = []invocation{
	{chart: "v3/basic", files: []string{"tests_failed/*_test.yaml"}},
	{chart: "v3/basic", strict: true},
	{chart: "v3/basic", values: []string{"v3/basic/tests/values/image.yaml"}},
	{chart: "v3/with-document-select", files: []string{"tests_failed/*_test.yaml"}},
	{chart: "v3/with-helm-tests", chartTestsPath: "tests-chart"},
	{chart: "v3/nested_glob", files: []string{"tests/**/*_test.yaml"}},
	{chart: "v3/with-subchart", noSubcharts: true},
	{chart: "v3/with-packaged-0.1.0.tgz", files: []string{"../../external/tests/*.yaml"}, values: []string{"external/ns_values.yaml"}},
	{chart: "v3/with-subchart/charts/postgresql-0.8.3.tgz", files: []string{"../../../../external/*.yaml"}},
}

// knownDifferences lists cases where shakedown's verdict deliberately differs
// from helm-unittest's, keyed "invocation :: suite/case", with the reason.
// None today on helm-unittest's own charts; the one deliberate difference
// (no Kubernetes version leaking from one suite into the next) is pinned by
// TestNoVersionLeaksBetweenSuites.
var knownDifferences = map[string]string{}

// TestConformanceWithHelmUnittestCLI runs every chart of helm-unittest's own
// test/data/v3 (from the module cache, never copied into this repository)
// through the helm-unittest CLI built from the same module version and
// through Run, each on its own copy, and demands identical verdicts per case
// and identical summary counts.
func TestConformanceWithHelmUnittestCLI(t *testing.T) {
	ctx := context.Background()
	cli, mod, cache := helmUnittestCLI(t)
	yq, err := cache.Yq(ctx, kubebin.DefaultYqVersion)
	if err != nil {
		t.Fatalf("build yq (with-post-renderer's post-renderer): %v", err)
	}
	t.Setenv("PATH", filepath.Dir(yq)+string(os.PathListSeparator)+os.Getenv("PATH"))

	theirs := copyTestData(t, mod.Dir)
	ours := copyTestData(t, mod.Dir)
	entries, err := os.ReadDir(filepath.Join(ours, "v3"))
	if err != nil {
		t.Fatal(err)
	}
	var invs []invocation
	for _, e := range entries {
		invs = append(invs, invocation{chart: "v3/" + e.Name()})
	}
	invs = append(invs, extraInvocations...)

	cases, differ := 0, 0
	for _, in := range invs {
		want, wantSummary := runHelmUnittest(t, cli, theirs, in)
		t.Chdir(ours)
		opts := in.options()
		opts.Parallelism = 2
		rep, err := Run(ctx, opts)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		got := junitVerdicts(t, rep)
		var text bytes.Buffer
		if err := EncodeText(&text, rep); err != nil {
			t.Fatal(err)
		}
		gotSummary := summary(text.String())
		cases += len(want)
		known := false
		for _, d := range diffVerdicts(want, got) {
			if reason, ok := knownDifferences[in.String()+" :: "+d.key]; ok {
				t.Logf("%s :: %s: known difference (%s)", in, d.key, reason)
				known = true
				continue
			}
			differ++
			t.Errorf("%s :: %s: helm-unittest %s, shakedown %s", in, d.key, d.want, d.got)
		}
		if !known && wantSummary != gotSummary {
			t.Errorf("%s: summary differs\nhelm-unittest:\n%s\nshakedown:\n%s", in, wantSummary, gotSummary)
		}
	}
	if cases < 150 {
		t.Fatalf("only %d cases compared; did the charts load?", cases)
	}
	t.Logf("%d invocations, %d cases compared, %d differ", len(invs), cases, differ)
}

// TestSnapshotsMatchHelmUnittestBytes writes snapshots with -u through both
// and compares every snapshot file byte for byte.
func TestSnapshotsMatchHelmUnittestBytes(t *testing.T) {
	cli, mod, _ := helmUnittestCLI(t)
	theirs := copyTestData(t, mod.Dir)
	ours := copyTestData(t, mod.Dir)
	for _, d := range []string{theirs, ours} { // start both from no snapshot at all
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() && e.Name() == "__snapshot__" {
				os.RemoveAll(p)
				return filepath.SkipDir
			}
			return nil
		})
	}
	charts := []string{"v3/basic", "v3/full-snapshot", "v3/with-files", "v3/with-document-select", "v3/with-subchart", "v3/global-double-setting"}
	for _, c := range charts {
		cmd := exec.Command(cli, c, "-u")
		cmd.Dir = theirs
		cmd.CombinedOutput() // verdicts are compared elsewhere; here only the files
		t.Chdir(ours)
		if _, err := Run(context.Background(), Options{Charts: []string{c}, UpdateSnapshots: true, Worker: testWorker}); err != nil {
			t.Fatal(err)
		}
	}
	files := 0
	filepath.WalkDir(theirs, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".snap") {
			return err
		}
		rel, _ := filepath.Rel(theirs, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(ours, rel))
		if err != nil {
			t.Errorf("%s: helm-unittest wrote it, shakedown did not: %v", rel, err)
		} else if !bytes.Equal(want, got) {
			t.Errorf("%s differs from helm-unittest's:\nwant:\n%s\ngot:\n%s", rel, want, got)
		}
		files++
		return nil
	})
	if files < 5 {
		t.Fatalf("helm-unittest wrote only %d snapshot files", files)
	}
	t.Logf("%d snapshot files identical", files)
}

// helmUnittestCLI builds (once, into the shared cache) the helm-unittest CLI of
// the module version the engine comes from.
func helmUnittestCLI(t testing.TB) (string, goModule, *kubebin.Cache) {
	t.Helper()
	mod := moduleDir(t, kubebin.HelmUnittestModule)
	cache, err := kubebin.New(kubebin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := cache.HelmUnittest(context.Background(), mod.Version)
	if err != nil {
		t.Fatalf("build the helm-unittest CLI: %v", err)
	}
	return cli, mod, cache
}

// goModule is what `go list -m -json` says of a module in the build list.
type goModule struct{ Path, Version, Dir string }

// moduleDir finds a dependency in the module cache (downloading it if needed).
func moduleDir(t testing.TB, path string) goModule {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	var m goModule
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m.Dir == "" {
		if out, err := exec.Command("go", "mod", "download", "-json", path+"@"+m.Version).Output(); err == nil {
			json.Unmarshal(out, &m)
		}
	}
	if m.Dir == "" {
		t.Fatalf("module %s@%s is not in the module cache; run `go mod download`", path, m.Version)
	}
	return m
}

// copyTestData copies the module's test/data into a writable directory.
func copyTestData(t testing.TB, modDir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(modDir, "test", "data"))); err != nil {
		t.Fatal(err)
	}
	return dst
}

// runHelmUnittest runs the CLI on one invocation and returns its per-case
// verdicts (from its JUnit report) and its summary lines.
func runHelmUnittest(t *testing.T, cli, dir string, in invocation) (map[string]string, string) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "junit.xml")
	cmd := exec.Command(cli, append(in.args(), "-t", "JUnit", "-o", report)...)
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput() // exit 1 is a finding, compared below
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("%s: helm-unittest wrote no report: %v\n%s", in, err, out)
	}
	return parseJUnit(t, data), summary(string(out))
}

// junitVerdicts encodes a report with the same JUnit formatter and parses it.
func junitVerdicts(t *testing.T, r Report) map[string]string {
	t.Helper()
	enc, _ := EncoderFor("junit")
	var b bytes.Buffer
	if err := enc(&b, r); err != nil {
		t.Fatal(err)
	}
	return parseJUnit(t, b.Bytes())
}

// parseJUnit maps "suite/case#n" to pass, fail, error or skip.
func parseJUnit(t *testing.T, data []byte) map[string]string {
	t.Helper()
	var doc struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse JUnit: %v\n%s", err, data)
	}
	out := map[string]string{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			v := "pass"
			switch {
			case c.Failure != nil:
				v = "fail"
			case c.Error != nil:
				v = "error"
			case c.Skipped != nil:
				v = "skip"
			}
			key := s.Name + "/" + c.Name
			for n := 2; ; n++ { // same names may repeat across suites
				if _, dup := out[key]; !dup {
					break
				}
				key = fmt.Sprintf("%s/%s#%d", s.Name, c.Name, n)
			}
			out[key] = v
		}
	}
	return out
}

var summaryLine = regexp.MustCompile(`(?m)^(Charts|Test Suites|Tests|Snapshot|Snapshot Summary):.*$`)

// summary keeps the count lines of helm-unittest's layout.
func summary(text string) string {
	return strings.Join(summaryLine.FindAllString(text, -1), "\n")
}

type verdictDiff struct{ key, want, got string }

// diffVerdicts lists the cases whose verdicts differ or exist on one side only.
func diffVerdicts(want, got map[string]string) []verdictDiff {
	var out []verdictDiff
	for k, w := range want {
		if g := got[k]; g != w {
			out = append(out, verdictDiff{k, w, orNone(g)})
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, verdictDiff{k, "none", g})
		}
	}
	slices.SortFunc(out, func(a, b verdictDiff) int { return strings.Compare(a.key, b.key) })
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
