package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// runLoadCmd runs `shakedown load args...` and returns its error and output; a run
// that does not end within limit fails the test.
func runLoadCmd(t *testing.T, limit time.Duration, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	out, errOut := newSyncBuffer(), newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"load"}, args...))
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	select {
	case err = <-done:
		return out.String(), errOut.String(), err
	case <-time.After(limit):
		t.Fatalf("load %v did not end within %s\nstderr: %s", args, limit, errOut.String())
	}
	return "", "", nil
}

// Pacers that would send nothing, or flood the target (a vegeta rate of Freq 0 is
// unlimited), are refused before any request is sent.
func TestLoadRefusesPacersThatCannotBeKept(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "0"}, "at least 0.001/s"},
		{[]string{"--rate", "0.0001"}, "minimum of 0.001/s"},
		{[]string{"--pacer", "ramp", "--rate", "0"}, "at least 0.001/s"},
		{[]string{"--pacer", "ramp", "--rate", "10", "--ramp-from", "0.0001"}, "minimum of 0.001/s"},
		{[]string{"--pacer", "sine", "--rate", "0"}, "at least 0.001/s"},
		{[]string{"--pacer", "sine", "--rate", "10", "--sine-amplitude", "10"}, "must be below the mean rate"},
		{[]string{"--pacer", "steps", "--steps", "0:1s"}, "nothing would be sent"},
		{[]string{"--pacer", "steps", "--steps", "10:1s,0.0001:1s"}, "minimum of 0.001/s"},
	} {
		args := append([]string{"--target", srv.URL, "--token", "phc_x", "--duration", "300ms", "--sample-every", "0", "--report", "json"}, tc.args...)
		_, _, err := runLoadCmd(t, 20*time.Second, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("load %v = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the refused attacks sent %d requests", n)
	}
}

// slowProxy forwards TCP connections to upstream, holding the first one back for
// delay before any byte passes: a ClickHouse that is slow to connect to.
func slowProxy(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	var first atomic.Bool
	first.Store(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if first.Swap(false) {
					time.Sleep(delay)
				}
				u, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { io.Copy(u, c); u.Close() }()
				io.Copy(c, u)
			}()
		}
	}()
	return l.Addr().String()
}

// The schedule of intended send times starts when the attack does: time spent
// connecting to ClickHouse before it must not count as every request being late.
func TestLoadScheduleStartsAfterConnectingToClickHouse(t *testing.T) {
	r := startStackUp(t)
	const delay = 2 * time.Second
	ch := slowProxy(t, r.endpoints.ClickHouseNative, delay)
	stdout, stderr, err := runLoadCmd(t, 90*time.Second, "--state", r.stateDir, "--clickhouse", ch, "--sample-every", "1000000000",
		"--rate", "20", "--duration", "1s", "--report", "json", "--seed", "1")
	if err != nil {
		t.Fatalf("load: %v\nstderr: %s", err, stderr)
	}
	var rep struct {
		Summary record.Summary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout)
	}
	s := rep.Summary
	if s.Requests < 15 {
		t.Fatalf("sent %d requests, want about 20\nstderr: %s", s.Requests, stderr)
	}
	if s.Intended.P50 >= delay/2 || s.Window >= delay {
		t.Errorf("intended p50 %s over a window of %s (raw p50 %s): the %s spent connecting to ClickHouse counts as lateness",
			s.Intended.P50, s.Window, s.Latency.P50, delay)
	}
	if s.RequestedRate > 25 {
		t.Errorf("requested rate %.1f/s, want 20/s", s.RequestedRate)
	}
}

// fakeKube is a Kubernetes API server that records the Job a distributed load
// creates and refuses it, so the command ends right after.
func fakeKube(t *testing.T) (kubeconfig string, job func() *batchv1.Job) {
	t.Helper()
	var mu sync.Mutex
	var got *batchv1.Job
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/jobs") {
			body, _ := io.ReadAll(req.Body)
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
			j, ok := obj.(*batchv1.Job)
			if err != nil || !ok {
				t.Errorf("job body (%s): %T %v", req.Header.Get("Content-Type"), obj, err)
				j = nil
			}
			mu.Lock()
			got = j
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"test: refused","reason":"Forbidden","code":403}`)
	}))
	t.Cleanup(srv.Close)
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, func() *batchv1.Job {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// Every worker of `--workers N` gets every load-shaping flag, with every rate (the
// rate, each step, the ramp's start, the sine's amplitude) at its 1/N share.
func TestLoadWorkersGetEveryFlagAtTheirShare(t *testing.T) {
	common := []string{"--target", "http://capture:8010", "--token", "phc_x", "--seed", "7", "--duration", "30s",
		"--workers", "4", "--worker-image", "img", "--max-workers", "64", "--e2e-timeout", "45s", "--clickhouse", "ch:9000"}
	shared := map[string]string{"--duration": "30s", "--max-workers": "64", "--e2e-timeout": "45s", "--clickhouse": "ch:9000", "--seed": "7"}
	for _, tc := range []struct {
		args []string
		want map[string]string // flag: value; "" for a flag that must be absent
	}{
		{[]string{"--rate", "1000"},
			map[string]string{"--pacer": "constant", "--rate": "250", "--steps": "", "--ramp-from": "", "--sine-amplitude": ""}},
		{[]string{"--pacer", "ramp", "--rate", "1000", "--ramp-from", "200"},
			map[string]string{"--pacer": "ramp", "--rate": "250", "--ramp-from": "50", "--steps": ""}},
		{[]string{"--pacer", "ramp", "--rate", "1000"}, // default start: a tenth of the whole
			map[string]string{"--pacer": "ramp", "--rate": "250", "--ramp-from": "25"}},
		{[]string{"--pacer", "sine", "--rate", "1000", "--sine-amplitude", "400", "--sine-period", "20s"},
			map[string]string{"--pacer": "sine", "--rate": "250", "--sine-amplitude": "100", "--sine-period": "20s"}},
		{[]string{"--pacer", "sine", "--rate", "1000"}, // defaults: half the mean, the duration
			map[string]string{"--pacer": "sine", "--rate": "250", "--sine-amplitude": "125", "--sine-period": "30s"}},
		{[]string{"--pacer", "steps", "--steps", "100:10s,0:5s,400:20s"},
			map[string]string{"--pacer": "steps", "--steps": "25:10s,0:5s,100:20s", "--ramp-from": ""}},
	} {
		kubeconfig, job := fakeKube(t)
		_, stderr, err := runLoadCmd(t, 30*time.Second, append(append(common, "--kubeconfig", kubeconfig), tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%v: want the fake cluster's refusal, got %v\n%s", tc.args, err, stderr)
		}
		j := job()
		if j == nil || len(j.Spec.Template.Spec.Containers) != 1 {
			t.Errorf("%v: no Job created", tc.args)
			continue
		}
		if d := j.Spec.ActiveDeadlineSeconds; d == nil || *d != 30+45+300 {
			t.Errorf("%v: deadline %v, want 375 s", tc.args, d)
		}
		args := j.Spec.Template.Spec.Containers[0].Args
		flags := map[string]string{}
		for i := 1; i+1 < len(args); i += 2 {
			flags[args[i]] = args[i+1]
		}
		for k, want := range shared {
			if flags[k] != want {
				t.Errorf("%v: worker %s = %q, want %q (args %q)", tc.args, k, flags[k], want, args)
			}
		}
		for k, want := range tc.want {
			if got, ok := flags[k]; got != want || (want == "") == ok {
				t.Errorf("%v: worker %s = %q (set %v), want %q (args %q)", tc.args, k, got, ok, want, args)
			}
		}
	}

	// A share below the smallest rate a worker can pace is refused up front.
	_, _, err := runLoadCmd(t, 30*time.Second, "--target", "http://capture:8010", "--token", "phc_x", "--workers", "4",
		"--worker-image", "img", "--kubeconfig", "/nonexistent", "--rate", "0.002")
	if err == nil || !strings.Contains(err.Error(), "--workers 4") || !strings.Contains(err.Error(), "0.001/s") {
		t.Errorf("a share of 0.0005/s: %v, want an error naming --workers and the minimum rate", err)
	}
}

// A target that answers nothing fails the run even without thresholds.
func TestLoadFailsWhenEveryRequestFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"load", "--target", "http://" + addr, "--token", "phc_x", "--rate", "20", "--duration", "500ms", "--sample-every", "0"})
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err = cmd.ExecuteContext(context.Background())
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != exitThresholds || !strings.Contains(exit.msg, "requests failed") || !strings.Contains(exit.msg, "--target") {
		t.Fatalf("want exit 99 saying every request failed and naming --target, got %v\n%s", err, out.String())
	}
}

// Exit codes as k6's: 2 for a command used wrong (and nothing sent), 99 when a
// threshold fails, 0 when all pass; a zero duration runs forever only when
// asked for.
func TestLoadExitCodes(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	base := []string{"--target", srv.URL, "--token", "phc_x", "--sample-every", "0", "--report", "json", "--rate", "50"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"zero duration", []string{"--duration", "0"}, exitUsage, "--until-interrupted"},
		{"negative duration", []string{"--duration", "-1s"}, exitUsage, "positive duration"},
		{"duration and until-interrupted", []string{"--duration", "1s", "--until-interrupted"}, exitUsage, "until-interrupted"},
		{"malformed threshold", []string{"--duration", "300ms", "--threshold", "p(95)<<3"}, exitUsage, "threshold"},
		{"unknown report", []string{"--duration", "300ms", "--report", "pdf"}, exitUsage, "--report"},
		{"bad mix", []string{"--duration", "300ms", "--mix", "event"}, exitUsage, "--mix"},
		{"bad prebuild memory", []string{"--duration", "300ms", "--prebuild-memory", "lots"}, exitUsage, "--prebuild-memory"},
		{"negative prebuild memory", []string{"--duration", "300ms", "--prebuild-memory", "-1Mi"}, exitUsage, "--prebuild-memory"},
		{"threshold fails", []string{"--duration", "400ms", "--threshold", "p(95)<1us"}, exitThresholds, "p(95)<1us"},
		{"thresholds pass", []string{"--duration", "400ms", "--threshold", "errors<50%"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			_, _, err := runLoadCmd(t, 30*time.Second, append(append([]string{}, base...), tc.args...)...)
			var exit *exitError
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("want exit 0, got %v", err)
			case tc.code == 0:
			case !errors.As(err, &exit) || exit.code != tc.code || !strings.Contains(exit.msg, tc.want):
				t.Fatalf("want exit %d mentioning %q, got %v", tc.code, tc.want, err)
			}
			if sent := hits.Load() - before; tc.code == exitUsage && sent != 0 {
				t.Errorf("a refused command sent %d requests", sent)
			}
		})
	}
}

func TestLoadPrebuildsTheRunsRequests(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.URL.RawQuery+string(b)]++
		mu.Unlock()
	}))
	defer srv.Close()
	base := []string{"--target", srv.URL, "--token", "phc_x", "--sample-every", "0", "--report", "json", "--rate", "100", "--duration", "500ms",
		"--mix", "event=1,array=1,batch=1"}
	// 100/s for 0.5 s: the pacer schedules 50 requests, all built beforehand.
	_, stderr, err := runLoadCmd(t, 30*time.Second, base...)
	if err != nil || !strings.Contains(stderr, "built 50 requests before the attack") {
		t.Fatalf("err %v; stderr lacks the 50 prebuilt requests:\n%s", err, stderr)
	}
	// Only a few fit in 8 KiB: the others are built during the attack.
	_, stderr, err = runLoadCmd(t, 30*time.Second, append(base, "--prebuild-memory", "8Ki", "--seed", "3")...)
	if err != nil || !strings.Contains(stderr, "are built during the attack") {
		t.Fatalf("err %v; stderr does not say the rest are built during the attack:\n%s", err, stderr)
	}
	_, stderr, err = runLoadCmd(t, 30*time.Second, append(base, "--prebuild-memory", "0")...)
	if err != nil || strings.Contains(stderr, "before the attack") {
		t.Fatalf("err %v; --prebuild-memory 0 still prebuilt:\n%s", err, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) < 140 {
		t.Errorf("%d distinct requests over three runs of 50, want about 150", len(bodies))
	}
	for b, n := range bodies {
		if n > 1 {
			t.Errorf("a request was sent %d times: %.80s", n, b)
		}
	}
}
