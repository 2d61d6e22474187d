package unit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
)

const probeChart = "testdata/probe"

func TestVerdictsPassFailSkip(t *testing.T) {
	rep := run(t, Options{Charts: []string{probeChart}, TestFiles: []string{"tests/*_test.yaml", "failing/*_test.yaml"}, KubeVersions: []string{"1.34.4"}})
	got := verdicts(rep)
	want := map[string]Status{
		"1.34.4 configmap/greets":                            StatusPass,
		"1.34.4 configmap/greets as told":                    StatusPass,
		"1.34.4 configmap/matches its snapshot":              StatusPass,
		"1.34.4 configmap/sees the API versions it is given": StatusPass,
		"1.34.4 version/renders on Kubernetes 1.34":          StatusPass,
		"1.34.4 version/a case's own version wins":           StatusPass,
		"1.34.4 wrong/expects another greeting":              StatusFail,
		"1.34.4 wrong/is skipped":                            StatusSkip,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d cases, want %d: %v", len(got), len(want), got)
	}
	if !rep.Failed() {
		t.Error("a failed case must fail the report")
	}
	c := rep.Count()
	if c.Tests.Failed != 1 || c.Tests.Skipped != 1 || c.Suites.Failed != 1 || c.Charts.Failed != 1 {
		t.Errorf("counts: %+v", c)
	}
	var out bytes.Buffer
	if err := EncodeText(&out, rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{" FAIL  wrong", "expects another greeting", "Expected to equal:", "Kubernetes 1.34.4",
		"Tests:       1 failed, 6 passed, 1 skipped, 8 total"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, out.String())
		}
	}
}

func TestEverySuiteRunsPerKubernetesVersion(t *testing.T) {
	rep := run(t, Options{Charts: []string{probeChart}, KubeVersions: []string{"1.28.15", "v1.34.4"}})
	got := verdicts(rep)
	for k, v := range map[string]Status{
		"1.28.15 version/renders on Kubernetes 1.34": StatusFail,
		"1.34.4 version/renders on Kubernetes 1.34":  StatusPass,
		"1.28.15 version/a case's own version wins":  StatusPass,
		"1.34.4 version/a case's own version wins":   StatusPass,
	} {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(rep.Runs) != 2 || rep.Runs[0].KubeVersion != "1.28.15" || rep.Runs[1].KubeVersion != "1.34.4" {
		t.Fatalf("want one run per version, got %+v", rep.Runs)
	}
	if rep.Runs[0].Passed() || !rep.Runs[1].Passed() {
		t.Errorf("1.28.15 must fail and 1.34.4 pass")
	}
}

func TestSnapshotsAreWrittenOnlyWithUpdate(t *testing.T) {
	chart := copyChart(t, probeChart)
	snapDir := filepath.Join(chart, "tests", "__snapshot__")
	rep := run(t, Options{Charts: []string{chart}, KubeVersions: []string{"1.34.4"}})
	if rep.Failed() {
		t.Fatal("probe suites must pass")
	}
	if c := rep.Count(); c.Created != 1 {
		t.Errorf("want 1 new snapshot counted, got %+v", c)
	}
	if _, err := os.Stat(snapDir); !os.IsNotExist(err) {
		t.Fatalf("a run without -u created %s (err %v)", snapDir, err)
	}

	run(t, Options{Charts: []string{chart}, KubeVersions: []string{"1.34.4"}, UpdateSnapshots: true})
	snap := filepath.Join(snapDir, "configmap_test.yaml.snap")
	written, err := os.ReadFile(snap)
	if err != nil {
		t.Fatalf("-u wrote no snapshot: %v", err)
	}

	// A changed render fails the snapshot and leaves the file as it was.
	rep = run(t, Options{Charts: []string{chart}, KubeVersions: []string{"1.34.4"}, ValuesFiles: []string{writeValues(t, "greeting: changed\n")}})
	if got := verdicts(rep)["1.34.4 configmap/matches its snapshot"]; got != StatusFail {
		t.Errorf("changed render: snapshot case %q, want fail", got)
	}
	var text bytes.Buffer
	EncodeText(&text, rep)
	if want := "Snapshot Summary: 1 snapshot failed in 1 test suite. Check changes"; !strings.Contains(text.String(), want) {
		t.Errorf("text report lacks helm-unittest's %q:\n%s", want, text.String())
	}
	// A case that errors must not prune its stored snapshot.
	rep = run(t, Options{Charts: []string{chart}, KubeVersions: []string{"1.34.4"}, ValuesFiles: []string{filepath.Join(t.TempDir(), "missing.yaml")}})
	if !rep.Failed() {
		t.Error("a missing values file must fail the cases")
	}
	after, err := os.ReadFile(snap)
	if err != nil || !bytes.Equal(after, written) {
		t.Fatalf("runs without -u changed %s:\nbefore:\n%s\nafter (err %v):\n%s", snap, written, err, after)
	}
}

// writeValues writes a values file and returns its absolute path.
func writeValues(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInvalidOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"no chart":           {},
		"bad version":        {Charts: []string{probeChart}, KubeVersions: []string{"1.x"}},
		"-u with 2 versions": {Charts: []string{probeChart}, KubeVersions: []string{"1.28.15", "1.34.4"}, UpdateSnapshots: true},
	} {
		_, err := Run(context.Background(), opts)
		if !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: got %v, want ErrInvalidOptions", name, err)
		}
	}
	if _, err := EncoderFor("yaml"); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("unknown format: got %v, want ErrInvalidOptions", err)
	}
}

func TestBrokenChartIsAFindingNotAnError(t *testing.T) {
	broken := t.TempDir() // no Chart.yaml
	rep := run(t, Options{Charts: []string{broken, probeChart}, KubeVersions: []string{"1.34.4"}})
	if len(rep.Runs) != 2 || rep.Runs[0].Error == nil || !strings.Contains(rep.Runs[0].Error.Error(), broken) {
		t.Fatalf("want the missing chart reported by name, got %+v", rep.Runs[0])
	}
	if !rep.Runs[1].Passed() {
		t.Error("the good chart after a missing one must still run and pass")
	}
	if c := rep.Count(); c.Charts.Errored != 1 || c.Charts.Passed != 1 {
		t.Errorf("counts: %+v", c.Charts)
	}
}

func TestFailfastStartsNoFurtherSuite(t *testing.T) {
	rep, err := Run(context.Background(), Options{Charts: []string{probeChart}, Failfast: true, Parallelism: 1,
		TestFiles: []string{"failing/*_test.yaml", "tests/*_test.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Runs[0].Suites); n != 1 {
		t.Errorf("failfast ran %d suites, want 1 (the failing one)", n)
	}
}

// Worker tests use the reference chart: with its 17 suites the worker
// goroutines surely take some, however fast this process runs the rest.

func TestDeadWorkerFailsItsSuites(t *testing.T) {
	rep := run(t, Options{Charts: []string{referenceChart}, Worker: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, "sh", "-c", "read setup; echo worker broke >&2; exit 3") // dies at its first job
	}})
	if !rep.Failed() {
		t.Fatal("suites whose worker died must fail")
	}
	// This process runs suites too; those the broken worker took must say why they failed.
	broken := 0
	for _, s := range rep.Runs[0].Suites {
		if s.ExecError != nil {
			if !strings.Contains(s.ExecError.Error(), "worker broke") {
				t.Errorf("suite %s: want the worker's stderr in the error, got %v", s.DisplayName, s.ExecError)
			}
			broken++
		}
	}
	if broken == 0 || len(rep.Runs[0].Suites) != 17 {
		t.Errorf("want 17 suites, some failed by the broken worker; got %d suites, %d broken", len(rep.Runs[0].Suites), broken)
	}
}

// TestParallelRunsAgree runs the reference chart ten times at once, each on
// its own worker processes; every run must give the same verdicts.
func TestParallelRunsAgree(t *testing.T) {
	const runs = 10
	var wg sync.WaitGroup
	got := make([]map[string]Status, runs)
	for i := range runs {
		wg.Go(func() { got[i] = verdicts(run(t, Options{Charts: []string{referenceChart}})) })
	}
	wg.Wait()
	if len(got[0]) < minChartCases {
		t.Fatalf("only %d cases", len(got[0]))
	}
	for i := 1; i < runs; i++ {
		for k, v := range got[0] {
			if got[i][k] != v {
				t.Errorf("run %d: %s = %q, run 0 gave %q", i, k, got[i][k], v)
			}
		}
		if len(got[i]) != len(got[0]) {
			t.Errorf("run %d: %d cases, run 0 had %d", i, len(got[i]), len(got[0]))
		}
	}
}

// TestRaceParallelRunner exercises the scheduler, the workers and the
// in-process path, with two Run calls at once, under `go test -race` (make
// test runs it so).
func TestRaceParallelRunner(t *testing.T) {
	opts := Options{Charts: []string{probeChart, copyChart(t, probeChart)}, KubeVersions: []string{"1.28.15", "1.34.4"},
		TestFiles: []string{"tests/*_test.yaml", "failing/*_test.yaml"}}
	var here, onWorkers Report
	var wg sync.WaitGroup
	wg.Go(func() { onWorkers = run(t, opts) })
	wg.Go(func() {
		o := opts
		o.Parallelism = 1
		var err error
		if here, err = Run(context.Background(), o); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	for name, rep := range map[string]Report{"in-process": here, "workers": onWorkers} {
		c := rep.Count()
		// per chart and version: 1.28.15 fails "renders on Kubernetes 1.34" and both fail "wrong"
		if len(rep.Runs) != 4 || c.Tests.Failed != 6 || c.Tests.Skipped != 4 || c.Tests.Passed != 22 || c.Suites.Errored != 0 {
			t.Errorf("%s: %d runs, counts %+v", name, len(rep.Runs), c)
		}
	}
	if !reflect.DeepEqual(verdicts(here), verdicts(onWorkers)) {
		t.Errorf("in-process and worker runs disagree:\n%v\n%v", verdicts(here), verdicts(onWorkers))
	}
}

// TestNoVersionLeaksBetweenSuites: the engine leaves the last case's
// Kubernetes version in a Helm package variable; helm-unittest's CLI then
// renders every later suite without its own version with it (b..e fail
// there after a). Here each suite starts from Helm's default, whatever ran
// before it in the same process.
func TestNoVersionLeaksBetweenSuites(t *testing.T) {
	for _, par := range []int{1, 2} {
		rep := run(t, Options{Charts: []string{probeChart}, TestFiles: []string{"isolation/*_test.yaml"}, Parallelism: par})
		if rep.Failed() || rep.Count().Tests.Passed != 6 {
			var out bytes.Buffer
			EncodeText(&out, rep)
			t.Errorf("parallelism %d:\n%s", par, out.String())
		}
	}
}

func TestEngineVersionMatchesGoMod(t *testing.T) {
	if m := moduleDir(t, kubebin.HelmUnittestModule); m.Version != EngineVersion {
		t.Fatalf("go.mod has helm-unittest %s, EngineVersion says %s: update EngineVersion", m.Version, EngineVersion)
	}
	if got := verdicts(run(t, Options{Charts: []string{probeChart}, TestFiles: []string{"isolation/minimum_version_test.yaml"}})); got["needs the engine's own version/runs on helm-unittest 1.1.2"] != StatusPass {
		t.Errorf("a suite needing minimumVersion %s must run and pass: %v", EngineVersion, got)
	}
}

func TestDuplicateChartsAndVersionsRunOnce(t *testing.T) {
	rep := run(t, Options{Charts: []string{probeChart, "./" + probeChart}, KubeVersions: []string{"1.34.4", "v1.34.4", "1.34.0"}})
	if len(rep.Runs) != 1 || rep.Failed() {
		t.Fatalf("want one passing run, got %d runs, failed %v", len(rep.Runs), rep.Failed())
	}
}

func TestWorkerThatCannotStartLeavesItsSuitesToThisProcess(t *testing.T) {
	rep := run(t, Options{Charts: []string{referenceChart}, Worker: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, filepath.Join(t.TempDir(), "no-such-worker"))
	}})
	if rep.Failed() || rep.Count().Tests.Passed < minChartCases {
		t.Errorf("suites must still run and pass: %+v", rep.Count())
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "no-such-worker") {
		t.Errorf("want one note naming the worker, got %q", rep.Notes)
	}
}

func TestFailfastReportEncodesAsXML(t *testing.T) {
	rep, err := Run(context.Background(), Options{Charts: []string{probeChart}, Failfast: true, Parallelism: 1,
		TestFiles: []string{"failing/*_test.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range XMLFormats() {
		enc, _ := EncoderFor(f)
		var b bytes.Buffer
		if err := enc(&b, rep); err != nil || !strings.Contains(b.String(), "expects another greeting") {
			t.Errorf("%s: %v\n%s", f, err, b.String())
		}
	}
}

func TestInterruptedRunSaysSo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rep, err := Run(ctx, Options{Charts: []string{referenceChart}, KubeVersions: []string{"1.28.15", "1.30.14", "1.34.4"}, Worker: testWorker, Parallelism: 2})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the interrupt as the error, got %v", err)
	}
	c := rep.Count()
	if c.Charts.Passed != 0 || c.Charts.Errored == 0 {
		t.Errorf("an interrupted run must not count unfinished charts as passed: %+v", c.Charts)
	}
	for _, r := range rep.Runs {
		if r.Error != nil && !strings.Contains(r.Error.Error(), "interrupted") {
			t.Errorf("run %s: %v", r.KubeVersion, r.Error)
		}
	}
}
