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

func TestStackUpWritesStateServesAndCleansUp(t *testing.T) {
	stateDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	cmd := newRootCmd()
	cmd.SetArgs([]string{"stack", "up", "--listen", "127.0.0.1:0", "--state", stateDir, "--token", "phc_cli_test"})
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	statePath := filepath.Join(stateDir, stack.StateFile)
	var e stack.Endpoints
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		if e, err = stack.ReadState(stateDir); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("stack up ended early: %v\nstderr: %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 60 s; stderr: %s", statePath, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e.Token != "phc_cli_test" || e.ClickHouseNative == "" || e.ClickHouseHTTP == "" || e.PostgresDSN == "" || len(e.KafkaBrokers) == 0 {
		t.Fatalf("incomplete state: %+v", e)
	}
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
