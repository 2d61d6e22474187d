package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestE2ECommandAgainstARunningStack(t *testing.T) {
	r := startStackUp(t)
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"e2e", "--state", r.stateDir, "--events", "600", "--people", "40", "--seed", "3"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("e2e failed: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"sent          600 events", "stored        600 rows (FINAL), 600 distinct uuids", "missing       0", "PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// The same events checked against a database that does not hold them must fail.
	out.Reset()
	cmd = newRootCmd()
	cmd.SetArgs([]string{"e2e", "--state", r.stateDir, "--events", "20", "--seed", "4", "--clickhouse-database", "nowhere", "--wait", "1s"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 1 || !strings.Contains(exit.msg, "nowhere") {
		t.Fatalf("want exit 1 naming the database, got %v\n%s", err, out.String())
	}
}

// TestE2ESDKCommand drives posthog-go through the CLI against a stack started by
// `stack up`: PostgreSQL comes from the state file, so flags are configured and
// checked too; a wrong --sdk is a usage error.
func TestE2ESDKCommand(t *testing.T) {
	r := startStackUp(t)
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"e2e", "--state", r.stateDir, "--sdk", "go", "--events", "40"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("e2e --sdk go failed: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"PASS go@1.5.2: sent 51, stored 51 rows", "pass    flag: group property stored", "pass    alias merged persons"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "not-run") {
		t.Errorf("with PostgreSQL from --state every check must run:\n%s", out.String())
	}

	for _, args := range [][]string{
		{"e2e", "--state", r.stateDir, "--sdk", "ruby"},
		{"e2e", "--state", r.stateDir, "--sdk", "go@9.9.9"},
		{"e2e", "--state", r.stateDir, "--sdk", "go", "--format", "yaml"},
	} {
		cmd = newRootCmd()
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		err := cmd.ExecuteContext(context.Background())
		var exit *exitError
		if !errors.As(err, &exit) || exit.code != exitUsage {
			t.Errorf("%v: want exit %d, got %v", args, exitUsage, err)
		}
	}
}
