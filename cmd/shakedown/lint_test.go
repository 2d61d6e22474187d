package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// goodLintChart is the lint layer's passing chart; its overlays are named in
// suites/lint/testdata/fixtures/overlays.yaml.
const goodLintChart = "../../suites/lint/testdata/good"

// runLintCmd runs `shakedown lint args...` and returns stdout and the exit
// code the error maps to (1 for an error that is not an exitError, as main does).
func runLintCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"lint"}, args...))
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
	return out.String() + err.Error(), 1
}

func TestLintCommandOverlaysAndExitCodes(t *testing.T) {
	overlays, err := filepath.Abs(filepath.Join(goodLintChart, "values"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{goodLintChart, "--kubernetes", "1.34.4", "--cloud", "k3s", "-o", "json"}, 0, "\"clouds\": [\n    \"k3s\"\n  ]"},
		{[]string{goodLintChart, "--kubernetes", "1.34.4", "--overlays", overlays, "--cloud", "aws", "-o", "json"}, 0, "\"clouds\": [\n    \"aws\"\n  ]"},
		{[]string{"../../suites/lint/testdata/broken", "--kubernetes", "1.34.4", "--cloud", "k3s"}, 1, "lint found"},
		{[]string{goodLintChart, "--kubernetes", "1.34.4", "--overlays", filepath.Join(t.TempDir(), "absent")}, 2, "overlay directory"},
		{[]string{goodLintChart, "--kubernetes", "1.34.4", "--cloud", "mars"}, 2, "overlays found: aws, azure, digitalocean, gcp, k3s"},
		{[]string{probeChart, "--kubernetes", "1.34.4", "--cloud", "aws"}, 2, "has no cloud overlays"},
		{[]string{filepath.Join(t.TempDir(), "absent")}, 2, "pass a chart directory"},
		{[]string{goodLintChart, "-o", "yaml"}, 2, "yaml"},
	} {
		out, code := runLintCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("lint %v: exit %d, want %d with %q; output:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
}
