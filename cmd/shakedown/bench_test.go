package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// runBenchCmd runs `shakedown bench regions args...` and returns its stdout, stderr
// and the exit code main would give (2 for cobra's usage errors, 1 for any other
// error that is not an exitError).
func runBenchCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	out, errOut := newSyncBuffer(), newSyncBuffer()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"bench", "regions"}, args...))
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.ExecuteContext(ctx)
	var exit *exitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exit):
		return out.String(), errOut.String() + exit.msg, exit.code
	case cobraUsageError(err):
		return out.String(), errOut.String() + err.Error(), exitUsage
	}
	return out.String(), errOut.String() + err.Error(), 1
}

// benchServer answers every request after delay with status code, and counts them.
func benchServer(t *testing.T, delay time.Duration, code int) (string, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		time.Sleep(delay)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"status":1}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

// Every bad flag is refused as a usage error (exit 2) before the first request.
func TestBenchRegionsRefusesBadFlagsBeforeAnyRequest(t *testing.T) {
	eu, euHits := benchServer(t, 0, http.StatusOK)
	us, usHits := benchServer(t, 0, http.StatusOK)
	base := []string{"--target", "eu=" + eu, "--target", "us=" + us, "--token", "phc_test", "--rounds", "5", "--warmup", "0"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "0"}, "--rate 0: want a positive number"},
		{[]string{"--rate", "-3"}, "--rate -3"},
		{[]string{"--rounds", "0"}, "--rounds 0: want at least one measured round"},
		{[]string{"--confidence", "1.5"}, "confidence level 1.5"},
		{[]string{"--confidence", "0"}, "--confidence 0"},
		{[]string{"--resamples", "10"}, "10 bootstrap resamples: use at least 1000"},
		{[]string{"--metric", "foo"}, `metric "foo"`},
		{[]string{"--report", "pdf"}, `report format "pdf"`},
		{[]string{"--max-errors", "150%"}, "--max-errors"},
		{[]string{"--threshold", "eu.p(95) <"}, `threshold "eu.p(95) <": right side: empty`},
		{[]string{"--threshold", "eu.p(95) us.p(95)"}, "no comparison"},
		{[]string{"--threshold", "ap.p(95) < us.p(95)"}, `unknown target "ap"; the targets are eu, us`},
		{[]string{"--threshold", "eu.p(101) < 1s"}, `percentile "101"`},
		{[]string{"--threshold", "eu.p95 < 1s"}, `statistic "p95" of eu`},
		{[]string{"--residency", "eu=nowhere"}, "residency store eu"},
		{[]string{"--residency", "ap=127.0.0.1:9000"}, `store for "ap", which is not a target`},
		{[]string{"--target", "bad"}, `target "bad": want NAME=URL`},
		{[]string{"--target", "eu=ftp://x"}, "target name \"eu\" is used twice"},
		{[]string{"--target", "ap=ftp://x"}, "target ap URL \"ftp://x\": want an absolute http(s) URL"},
		{[]string{"--target", "a p=http://x"}, "target name \"a p\""},
	} {
		_, stderr, code := runBenchCmd(t, append(append([]string{}, base...), tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q; stderr:\n%s", tc.args, code, exitUsage, tc.want, stderr)
		}
	}
	if n := euHits.Load() + usHits.Load(); n != 0 {
		t.Errorf("%d requests sent by refused runs, want none", n)
	}
	if _, stderr, code := runBenchCmd(t, "--target", "eu="+eu, "--target", "us="+us, "--token", "phc_test", "--simulate", "eu=1ms,us=2ms"); code != exitUsage {
		t.Errorf("--target with --simulate: exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
}

// Exit 99 when a target fails every request (naming it and its most frequent error)
// or a region threshold fails; 0 when every check passes.
func TestBenchRegionsExitCodes(t *testing.T) {
	fast, _ := benchServer(t, 0, http.StatusOK)
	slow, _ := benchServer(t, 15*time.Millisecond, http.StatusOK)
	down, _ := benchServer(t, 0, http.StatusServiceUnavailable)
	run := []string{"--token", "phc_test", "--rounds", "40", "--warmup", "2", "--rate", "100", "--resamples", "1000"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"passing threshold", []string{"--target", "fast=" + fast, "--target", "slow=" + slow, "--threshold", "fast.p(50) < slow.p(50)", "--threshold", "fast.p(95) < 0.9*slow.p(95)"},
			0, []string{"fast has ", "lower latency than slow at p50", "Result: passed", "the difference is significant"}},
		{"failing threshold", []string{"--target", "fast=" + fast, "--target", "slow=" + slow, "--threshold", "slow.p(50) < fast.p(50)"},
			exitThresholds, []string{"FAIL threshold slow.p(50) < fast.p(50)", "threshold slow.p(50) < fast.p(50) failed: slow p50"}},
		{"fixed limit", []string{"--target", "fast=" + fast, "--target", "slow=" + slow, "--threshold", "slow.p(99) < 5ms"},
			exitThresholds, []string{"threshold slow.p(99) < 5ms failed"}},
		{"target down", []string{"--target", "fast=" + fast, "--target", "down=" + down},
			exitThresholds, []string{"errors: down: 40 of 40 requests failed (100%; allowed: not all); most frequent: 40× 503 Service Unavailable"}},
		{"errors allowed", []string{"--target", "fast=" + fast, "--target", "down=" + down, "--max-errors", "100%"},
			0, []string{"Result: passed"}},
	} {
		stdout, stderr, code := runBenchCmd(t, append(append([]string{}, run...), tc.args...)...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.name, code, tc.code, stdout, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%s: output lacks %q\nstdout:\n%s\nstderr:\n%s", tc.name, w, stdout, stderr)
			}
		}
	}
}
