package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// probeChart is the unit layer's own small chart.
const probeChart = "../../suites/unit/testdata/probe"

// TestMain lets this test binary serve as `shakedown unit-worker`: `shakedown
// unit` starts its workers from /proc/self/exe, which here is the test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == unitWorkerCmd {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runUnitCmd runs `shakedown unit args...` (suites on this process and one
// worker process) and returns stdout and the exit code the error maps to.
func runUnitCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"unit", "--parallelism", "2"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	var exit *exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String() + exit.msg, exit.code
	}
	t.Fatalf("unit %v: unexpected error %v", args, err)
	return "", 0
}

func TestUnitCommandExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{probeChart, "--kubernetes", "1.34.4"}, 0, "Tests:       6 passed, 6 total"},
		{[]string{probeChart, "-f", "failing/*_test.yaml"}, 1, "1 of 2 cases failed"},
		{[]string{probeChart, "--kubernetes", "one.two"}, 2, "write it as MAJOR.MINOR"},
		{[]string{probeChart, "--kubernetes", "1.28.15,1.34.4", "-u"}, 2, "-u with 2 Kubernetes versions"},
		{[]string{probeChart, "-t", "YAML", "-o", filepath.Join(t.TempDir(), "x")}, 2, "use JUnit, NUnit, XUnit or Sonar"},
		{[]string{probeChart, "--format", "yaml"}, 2, "unknown report format"},
		{[]string{probeChart, "--no-such-flag"}, 2, "unknown flag"},
		{[]string{"does/not/exist"}, 2, "chart does/not/exist"},
		{[]string{t.TempDir()}, 1, "1 of 1 charts failed"},
	} {
		out, code := runUnitCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("unit %v: exit %d, want %d; output lacks %q?\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
}

func TestUnitCommandWritesHelmUnittestReports(t *testing.T) {
	dir := t.TempDir()
	junitFile, xunitFile := filepath.Join(dir, "j", "unit.xml"), filepath.Join(dir, "x.xml")
	out, code := runUnitCmd(t, probeChart, "-f", "tests/*_test.yaml", "-f", "failing/*_test.yaml", "--kubernetes", "1.34.4",
		"--junit", junitFile, "-o", xunitFile, "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (one case fails)\n%s", code, out)
	}
	out = out[:strings.LastIndex(out, "}")+1] // the exit message follows the JSON
	var rep struct {
		Failed bool
		Counts struct {
			Tests struct{ Passed, Failed, Skipped int }
		}
	}
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&rep); err != nil {
		t.Fatalf("--format json: %v\n%s", err, out)
	}
	if !rep.Failed || rep.Counts.Tests.Passed != 6 || rep.Counts.Tests.Failed != 1 || rep.Counts.Tests.Skipped != 1 {
		t.Errorf("JSON counts: %+v", rep)
	}
	junit, err := os.ReadFile(junitFile)
	if err != nil || !strings.Contains(string(junit), "<testsuites>") || !strings.Contains(string(junit), `<failure message="Failed"`) {
		t.Errorf("--junit: %v\n%s", err, junit)
	}
	xunit, err := os.ReadFile(xunitFile)
	if err != nil || !strings.Contains(string(xunit), "<assemblies>") {
		t.Errorf("-o without -t writes helm-unittest's default XUnit: %v\n%s", err, xunit)
	}
}
