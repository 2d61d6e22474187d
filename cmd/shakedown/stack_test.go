package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack"
)

// syncBuffer is a bytes.Buffer safe for the command goroutine and the test to share.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// runningStack is a `shakedown stack up` running in a goroutine.
type runningStack struct {
	endpoints      stack.Endpoints
	stateDir       string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

// startStackUp runs `shakedown stack up --listen 127.0.0.1:0 --state DIR args...` and
// waits for its stack.json.
func startStackUp(t *testing.T, args ...string) *runningStack {
	t.Helper()
	r := &runningStack{stateDir: t.TempDir(), stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"stack", "up", "--listen", "127.0.0.1:0", "--state", r.stateDir}, args...))
	cmd.SetOut(r.stdout)
	cmd.SetErr(r.stderr)
	go func() { r.done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	// The docker provider may build its images first (minutes on a new machine).
	limit := 60 * time.Second
	for _, a := range args {
		if a == "docker" {
			limit = 15 * time.Minute
		}
	}
	deadline := time.Now().Add(limit)
	for {
		var err error
		if r.endpoints, err = stack.ReadState(r.stateDir); err == nil {
			return r
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("stack up ended early: %v\nstderr: %s", err, r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stack.json after %s; stderr: %s", limit, r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStackUpWritesStateServesAndCleansUp(t *testing.T) {
	r := startStackUp(t, "--token", "phc_cli_test")
	e, stdout, stateDir, cancel, done := r.endpoints, r.stdout, r.stateDir, r.cancel, r.done
	statePath := filepath.Join(stateDir, stack.StateFile)
	resp, err := http.Get(e.CaptureURL + "/_readiness")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("readiness = %d", resp.StatusCode)
	}
	if !strings.Contains(stdout.String(), e.Token) || !strings.Contains(stdout.String(), e.CaptureURL) {
		t.Fatalf("stdout does not show the endpoints and token:\n%s", stdout.String())
	}

	cancel() // what SIGINT/SIGTERM do through signal.NotifyContext
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err != nil {
			t.Fatalf("stack up returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stack up did not stop within 30 s of the signal")
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Fatalf("stack.json left behind after stop (%v)", err)
	}
	if _, err := http.Get(e.CaptureURL + "/_liveness"); err == nil {
		t.Fatal("capture still answers after stop")
	}
	if c, err := net.DialTimeout("tcp", e.ClickHouseNative, time.Second); err == nil {
		c.Close()
		t.Fatal("clickhouse still listens after stop")
	}
}

func TestStackUpPortInUseNamesTheFix(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := newRootCmd()
	cmd.SetArgs([]string{"stack", "up", "--listen", l.Addr().String()})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err = cmd.ExecuteContext(context.Background())
	if err == nil {
		t.Fatal("stack up on a taken port must fail")
	}
	msg := err.Error()
	if !strings.Contains(msg, l.Addr().String()) || !strings.Contains(msg, "--listen") || strings.Contains(msg, "\n") {
		t.Fatalf("want one line naming the address and the --listen fix, got %q", msg)
	}
}

func TestStackUpRateLimitFlagAnswers429(t *testing.T) {
	r := startStackUp(t, "--rate-limit", "1", "--rate-burst", "2")
	status := func() int {
		body := `{"api_key":"` + r.endpoints.Token + `","batch":[{"event":"x","distinct_id":"a"}]}`
		resp, err := http.Post(r.endpoints.CaptureURL+"/batch/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	got := []int{status(), status(), status()}
	if got[0] != 200 || got[1] != 200 || got[2] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v, want [200 200 429] with a burst of 2", got)
	}
}
