package unit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runBasic runs suites of testdata/basic (or a copy of it) matched by glob.
func runBasic(t *testing.T, dir string, update bool, globs ...string) (Result, string) {
	t.Helper()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{ChartDir: dir, TestGlobs: globs, UpdateSnapshots: update, Out: &out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	return res, out.String()
}

// copyDir copies a test chart without its snapshots, so snapshot files can be written.
func copyDir(tb testing.TB, src string) string {
	tb.Helper()
	dst := tb.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		tb.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dst, "*", "__snapshot__"))
	for _, d := range snaps {
		if err := os.RemoveAll(d); err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}

func TestPassingSuites(t *testing.T) {
	dir := copyDir(t, "testdata/basic")
	res, out := runBasic(t, dir, false)
	if !res.Passed || res.TestsFailed != 0 {
		t.Fatalf("want every case to pass, got %d failed:\n%s", res.TestsFailed, out)
	}
	if res.TestsPassed < 10 {
		t.Fatalf("want the basic suites to run, got %d passed", res.TestsPassed)
	}
	for _, want := range []string{" PASS ", "Test Suites: 2 passed, 2 total", "Charts:      1 passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFailingCasesAllFail(t *testing.T) {
	res, out := runBasic(t, "testdata/basic", false, "fail/*_test.yaml")
	if res.Passed {
		t.Fatalf("want the run to fail:\n%s", out)
	}
	total := 0
	for _, s := range res.Suites {
		if s.Error != nil {
			t.Fatalf("suite %s did not load: %v", s.File, s.Error)
		}
		for _, c := range s.Tests {
			total++
			if c.Passed {
				t.Errorf("case %q passed, want it to fail", c.Name)
			}
		}
	}
	if res.TestsPassed != 0 || res.TestsFailed != total || total < 30 {
		t.Fatalf("want %d failures and no pass, got %d/%d", total, res.TestsFailed, res.TestsPassed)
	}
}

func TestFailureDetails(t *testing.T) {
	tests := []struct {
		caseName string
		want     []string
	}{
		{"equal wrong value", []string{"- asserts[0] `equal` fail", "Template:\tbasic/templates/deployment.yaml", "DocumentIndex:\t0", "Path:\tspec.replicas", "Expected to equal:", "\t3", "Actual:", "\t2"}},
		{"equal unknown path", []string{"unknown path spec.nope"}},
		{"not equal via not", []string{"asserts[0] `not` `equal` fail", "Expected NOT to equal:"}},
		{"contains wrong count", []string{"expect count 2"}},
		{"hasDocuments wrong count", []string{"Expected documents count to be:", "\t2", "\t1"}},
		{"failedTemplate when nothing fails", []string{"No failed document"}},
		{"failedTemplate wrong message", []string{"another message", "helper refused"}},
		{"render failure breaks a normal assertion", []string{"render failed"}},
		{"documentIndex out of range", []string{"document index 3 is out of range"}},
		{"template not selected", []string{`template "basic/templates/nope.yaml" not exists or not selected in test suite`}},
		{"one good one bad assertion", []string{"asserts[1] `equal` fail"}},
	}
	res, out := runBasic(t, "testdata/basic", false, "fail/wrong_test.yaml")
	byName := map[string]TestResult{}
	for _, c := range res.Suites[0].Tests {
		byName[c.Name] = c
	}
	for _, tc := range tests {
		t.Run(tc.caseName, func(t *testing.T) {
			c, ok := byName[tc.caseName]
			if !ok {
				t.Fatalf("no case %q", tc.caseName)
			}
			var text strings.Builder
			for _, a := range c.Asserts {
				if !a.Passed {
					text.WriteString("- asserts[" + itoa(a.Index) + "]" + notLabel(a.Not) + " `" + a.Type + "` fail\n")
					text.WriteString(strings.Join(a.Info, "\n") + "\n")
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(text.String(), w) {
					t.Errorf("details lack %q:\n%s", w, text.String())
				}
			}
		})
	}
	if !strings.Contains(out, " FAIL  every case here must fail") {
		t.Errorf("output lacks the FAIL line:\n%s", out)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSnapshotLifecycle(t *testing.T) {
	dir := copyDir(t, "testdata/basic")
	glob := "tests/deployment_test.yaml"
	res, out := runBasic(t, dir, false, glob)
	if !res.Passed || res.SnapshotsCreated != 1 {
		t.Fatalf("first run should create 1 snapshot and pass (created %d):\n%s", res.SnapshotsCreated, out)
	}
	snap := filepath.Join(dir, "tests", "__snapshot__", "deployment_test.yaml.snap")
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "renders the defaults:\n  1: |\n    image: nginx:1.25.3\n") {
		t.Fatalf("snapshot not in helm-unittest format:\n%s", data)
	}
	if res, out = runBasic(t, dir, false, glob); !res.Passed || res.SnapshotsPassed != 1 {
		t.Fatalf("second run should match the snapshot:\n%s", out)
	}
	// Change the chart's default memory limit: the snapshot must now fail.
	values := filepath.Join(dir, "values.yaml")
	v, _ := os.ReadFile(values)
	if err := os.WriteFile(values, []byte(strings.Replace(string(v), "memory: 256Mi", "memory: 300Mi", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out = runBasic(t, dir, false, glob)
	if res.Passed || res.SnapshotsFailed != 1 || !strings.Contains(out, "+    memory: 300Mi") || !strings.Contains(out, "-    memory: 256Mi") {
		t.Fatalf("changed chart should fail the snapshot with a diff:\n%s", out)
	}
	if res, out = runBasic(t, dir, true, glob); !res.Passed {
		t.Fatalf("update mode should pass:\n%s", out)
	}
	data, _ = os.ReadFile(snap)
	if !strings.Contains(string(data), "memory: 300Mi") {
		t.Fatalf("update mode should rewrite the snapshot:\n%s", data)
	}
}

func TestJUnit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", "junit.xml")
	_, err := Run(context.Background(), Options{ChartDir: "testdata/basic", TestGlobs: []string{"fail/raw_test.yaml"}, JUnitPath: path})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<testsuites tests="3" failures="3" errors="0"`, `<testcase name="equalRaw wrong" classname="raw assertions that must fail"`, "<failure message=\"assertion failed\""} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JUnit lacks %q:\n%s", want, data)
		}
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no chart", Options{ChartDir: "testdata/none"}, "load chart"},
		{"no suites", Options{ChartDir: "testdata/basic", TestGlobs: []string{"nothing/*.yaml"}}, "no test suite found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error with %q, got %v", tc.want, err)
			}
		})
	}
}

func TestSetPath(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{"a.b", "a:\n  b: 1\n"},
		{"a[1]", "a:\n  - null\n  - 1\n"},
		{"a.[x.y].c", "a:\n  x.y:\n    c: 1\n"},
		{`a["x.y"]`, "a:\n  x.y: 1\n"},
	}
	for _, tc := range tests {
		got, err := buildSetPath(tc.path, 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if toYAML(got) != tc.want {
			t.Errorf("%s: got\n%swant\n%s", tc.path, toYAML(got), tc.want)
		}
	}
	if _, err := buildSetPath("a[1", 1); err == nil {
		t.Error("want an error for an unclosed bracket")
	}
}
