package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shakedown-dev/shakedown/result"
)

func runGateCmd(t *testing.T, dir string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"gate"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	t.Chdir(dir)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var exit *exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestGateCommand runs `shakedown gate` on a stack of `stack up --state`: the
// commented gate file of `gate init` passes (exit 0) and writes every report;
// a too-tight threshold exits 1 naming the load stage.
func TestGateCommand(t *testing.T) {
	// A per-project limit of 1,000 events/s, which only go-live's burst exceeds.
	st := startStackUp(t, "--rate-limit", "1000")
	dir := t.TempDir()
	if _, _, err := runGateCmd(t, dir, "init"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runGateCmd(t, dir, "init"); exitCode(err) != exitUsage {
		t.Errorf("gate init over an existing file: %v, want exit %d", err, exitUsage)
	}
	// Smaller than the defaults, to keep the test short; the rest as written.
	b, _ := os.ReadFile(filepath.Join(dir, "gate.yaml"))
	small := strings.NewReplacer("events: 2000", "events: 300", "duration: 20s", "duration: 2s",
		"faults: [clickhouse-pause, clickhouse-kill, postgres-pause, postgres-kill, worker-restart]", "faults: [worker-restart]",
		"events: 1500", "events: 600", "stream: 6s", "stream: 3s", "rate_limit_burst: 0", "rate_limit_burst: 5000").Replace(string(b))
	os.WriteFile(filepath.Join(dir, "gate.yaml"), []byte(small), 0o644)

	out, stderr, err := runGateCmd(t, dir, "--state", st.stateDir, "--report", "text", "--report", "json", "--report", "md", "--report", "html", "--report", "junit", "--out", "reports")
	if err != nil {
		t.Fatalf("gate on a healthy stack: %v\n%s\n%s", err, out, stderr)
	}
	for _, ext := range []string{"txt", "json", "md", "html", "xml"} {
		if _, err := os.Stat(filepath.Join(dir, "reports", "gate."+ext)); err != nil {
			t.Errorf("report %s: %v", ext, err)
		}
	}
	rep, err := result.Read(filepath.Join(dir, "reports", "gate.json"))
	if err != nil || !rep.Passed() || rep.Meta["gate file"] != "gate.yaml" {
		t.Fatalf("json report: %+v, %v", rep, err)
	}
	// The faults stage drilled through stack up's control endpoint.
	var drilled bool
	for _, c := range rep.Checks {
		if c.Stage == "faults" && c.Name == "worker-restart" && c.Status == result.Pass {
			rto, _ := c.Measurement("RTO")
			drilled = rto.Value > 0
		}
	}
	if !drilled {
		t.Errorf("no passing worker-restart drill with an RTO in %+v", rep.Checks)
	}
	for _, c := range rep.Checks {
		if c.Stage == "go-live" && c.Name == "rate limit" && (c.Status != result.Pass || !strings.Contains(c.Summary, "Retry-After")) {
			t.Errorf("go-live rate limit on a stack limited to 1,000 events/s: %+v", c)
		}
	}

	tight := strings.Replace(small, "p(95)<500ms", "p(95)<1us", 1)
	os.WriteFile(filepath.Join(dir, "tight.yaml"), []byte(tight), 0o644)
	summary := filepath.Join(dir, "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	out, _, err = runGateCmd(t, dir, "--state", st.stateDir, "--gate", "tight.yaml", "--baseline", filepath.Join("reports", "gate.json"))
	if exitCode(err) != exitCheckFailed || !strings.Contains(err.Error(), "stage load") {
		t.Fatalf("a too-tight threshold: %v, want exit 1 naming the load stage\n%s", err, out)
	}
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasPrefix(first, "FAIL") || !strings.Contains(first, "stage load failed: threshold p(95)<1us") {
		t.Errorf("the report does not open with the verdict: %q", first)
	}
	if md, _ := os.ReadFile(summary); !strings.Contains(string(md), "stage load failed") {
		t.Errorf("step summary:\n%s", md)
	}
}

func TestGateUsageErrors(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o700)
	os.WriteFile(filepath.Join(state, "stack.json"), []byte(`{"capture_url":"http://127.0.0.1:1","token":"phc_x","clickhouse_native":"127.0.0.1:1"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("version: 1\nstages:\n  lod: {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notjson.json"), []byte("{"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to gate"},
		{[]string{"--state", filepath.Join(dir, "nowhere")}, "--state"},
		{[]string{"--state", state, "--gate", "bad.yaml"}, "lod"},
		{[]string{"--state", state, "--gate", "missing.yaml"}, "gate init"},
		{[]string{"--state", state, "--report", "pdf"}, "--report"},
		{[]string{"--state", state, "--baseline", "notjson.json"}, "--baseline"},
		{[]string{"--state", state, "--seed", "x"}, "--seed"},
		{[]string{"--state", state, "--kubeconfig", "kube.yaml"}, "--chart"},
		// An empty secret in CI must not turn the deployment stages into skips.
		{[]string{"--chart", "charts/x", "--target", "", "--token", "phc_x"}, "capture URL"},
		{[]string{"--chart", "charts/x", "--target", "http://127.0.0.1:1", "--token", ""}, "capture URL"},
	} {
		_, _, err := runGateCmd(t, dir, tc.args...)
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("gate %v: %v, want exit %d mentioning %q", tc.args, err, exitUsage, tc.want)
		}
	}
}
