package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runBenchVegetaCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newBenchVegetaCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestBenchVegetaPrintsRatesAndMedians(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":1}`)) }))
	defer srv.Close()
	dir := t.TempDir()
	state := `{"capture_url":"` + srv.URL + `","token":"phc_test"}`
	if err := os.WriteFile(filepath.Join(dir, "stack.json"), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runBenchVegetaCmd(t, "--state", dir, "--runs", "2", "--duration", "200ms", "--rate", "300",
		"--pause", "0", "--warmup", "0", "--seed", "7")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr)
	}
	for _, want := range []string{"static requests in the stream's mix", "% POST " + srv.URL + "/", "prebuilt   vegeta, fresh requests", "live       shakedown load --prebuild-memory 0", "live/bare", "realistic/prebuilt", "median", "CPU time of this process"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stderr, "round "); n != 8 || !strings.Contains(stderr, "seed 7") {
		t.Errorf("stderr has %d round lines, want 8, and the seed:\n%s", n, stderr)
	}
}

func TestBenchVegetaUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--target", "http://127.0.0.1:1", "--token", "t", "--mix", "event"},
		{"--target", "http://127.0.0.1:1", "--token", "t", "--mix", "bogus=1"},
		{"--target", "http://127.0.0.1:1", "--token", "t", "--runs", "0"},
		{"--target", "http://127.0.0.1:1", "--token", "t", "--rate", "0.5"},
		{"--state", "/nonexistent"},
	} {
		_, _, err := runBenchVegetaCmd(t, args...)
		var exit *exitError
		if !errors.As(err, &exit) || exit.code != exitUsage {
			t.Errorf("%v: %v, want exit %d", args, err, exitUsage)
		}
	}
}
