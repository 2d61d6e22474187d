package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestStackUpDockerProviderServesE2E: `stack up --provider docker` writes the same
// stack.json as the local provider, so `shakedown e2e` runs against the containers
// unchanged and finds every event it sent in the containerised ClickHouse.
func TestStackUpDockerProviderServesE2E(t *testing.T) {
	r := startStackUp(t, "--provider", "docker")
	if !strings.HasPrefix(r.endpoints.CaptureURL, "http://127.0.0.1:") || !strings.HasPrefix(r.endpoints.ClickHouseNative, "127.0.0.1:") {
		t.Errorf("containers must be reached on 127.0.0.1 only: %+v", r.endpoints)
	}
	if r.endpoints.ControlURL == "" {
		t.Error("stack.json has no control endpoint: gate drills could not reach the containers")
	}
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"e2e", "--state", r.stateDir, "--events", "3000", "--seed", "14"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("e2e against the docker stack failed: %v\n%s\n%s\nstack: %s", err, out.String(), errOut.String(), r.stderr.String())
	}
	for _, want := range []string{"stored        3000 rows (FINAL), 3000 distinct uuids", "missing       0", "PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestStackUpProviderUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"stack", "up", "--provider", "kind"},
		{"stack", "up", "--provider", "docker", "--listen", "0.0.0.0:8010"},
		{"stack", "up", "--provider", "docker", "--keep", t.TempDir()},
		{"stack", "up", "--provider", "docker", "--rate-limit", "5", "--rate-burst", "9"},
		{"images", "build", "mysql"},
		{"images", "build", "clickhouse", "--arch", "arm64"},
		{"images", "build", "--tag", "x:y"},
	} {
		cmd := newRootCmd()
		cmd.SetArgs(args)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.ExecuteContext(context.Background())
		var exit *exitError
		if !errors.As(err, &exit) || exit.code != exitUsage {
			t.Errorf("%v: got %v, want a usage error (exit 2)", args, err)
		}
	}
}
