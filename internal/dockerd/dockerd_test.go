package dockerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary play dockerd: with SHAKEDOWN_FAKE_DOCKERD=1 it serves
// /_ping on the --host socket until SIGTERM, so the start, lease and stop logic is
// tested without touching the machine's real engine.
func TestMain(m *testing.M) {
	if os.Getenv("SHAKEDOWN_FAKE_DOCKERD") == "1" {
		fakeDockerd()
		return
	}
	os.Exit(m.Run())
}

func fakeDockerd() {
	var sock string
	for i, a := range os.Args {
		if a == "--host" && i+1 < len(os.Args) {
			sock = strings.TrimPrefix(os.Args[i+1], "unix://")
		}
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake dockerd:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() { <-sig; l.Close(); os.Remove(sock); os.Exit(0) }()
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "OK") }))
}

// fakeDockerdScript is an executable that runs this test binary as the fake dockerd.
func fakeDockerdScript(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dockerd")
	script := "#!/bin/sh\nSHAKEDOWN_FAKE_DOCKERD=1 exec " + strconv.Quote(self) + " \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func testOptions(t *testing.T) Options {
	dir := t.TempDir()
	return Options{Host: "unix://" + filepath.Join(dir, "docker.sock"), Dockerd: fakeDockerdScript(t),
		StateDir: filepath.Join(dir, "state"), StartTimeout: 20 * time.Second}
}

func TestEnsureStartsAnEngineAndTheLastLeaseStopsIt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starting dockerd needs root; this user cannot")
	}
	ctx := context.Background()
	opts := testOptions(t)
	e, err := Ensure(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Started {
		t.Fatal("no engine answered, yet Ensure says it did not start one")
	}
	if err := Ping(ctx, opts.Host); err != nil {
		t.Fatalf("started engine does not answer: %v", err)
	}
	// Another live process holds a lease (the parent of this test): releasing ours
	// must leave the engine running.
	other := filepath.Join(opts.StateDir, "leases", strconv.Itoa(os.Getppid())+"-other")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Release(); err != nil {
		t.Fatal(err)
	}
	if err := Ping(ctx, opts.Host); err != nil {
		t.Fatalf("the engine stopped while another process held a lease: %v", err)
	}
	// A second user finds it running and does not claim to have started it.
	e2, err := Ensure(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if e2.Started {
		t.Error("the engine answered, yet Ensure says it started one")
	}
	os.Remove(other)
	// A lease of a dead process does not count.
	if err := os.WriteFile(filepath.Join(opts.StateDir, "leases", "999999999"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e2.Release(); err != nil {
		t.Fatal(err)
	}
	if err := Ping(ctx, opts.Host); err == nil {
		t.Fatal("the last lease was released, yet the engine started here still answers")
	}
}

func TestReleaseNeverStopsAnEngineItDidNotStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("this test runs a stand-in engine through dockerd's start path, which needs root")
	}
	ctx := context.Background()
	opts := testOptions(t)
	// An engine someone else started.
	cmd := exec.Command(opts.Dockerd, "--host", opts.Host)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	for i := 0; Ping(ctx, opts.Host) != nil; i++ {
		if i > 100 {
			t.Fatal("stand-in engine did not answer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e, err := Ensure(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if e.Started {
		t.Fatal("Ensure claims to have started an engine that was already running")
	}
	if err := e.Release(); err != nil {
		t.Fatal(err)
	}
	if err := Ping(ctx, opts.Host); err != nil {
		t.Fatalf("Release stopped an engine it did not start: %v", err)
	}
}

func TestEnsureNamesTheFix(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t)
	opts.Host = "tcp://127.0.0.1:1"
	_, err := Ensure(ctx, opts)
	if !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), "DOCKER_HOST") {
		t.Errorf("remote engine down: got %v, want ErrNoEngine naming DOCKER_HOST", err)
	}
	opts = testOptions(t)
	opts.Dockerd = filepath.Join(t.TempDir(), "no-dockerd")
	_, err = Ensure(ctx, opts)
	if !errors.Is(err, ErrNoEngine) || (os.Geteuid() == 0 && !strings.Contains(err.Error(), "docker.io")) {
		t.Errorf("no dockerd: got %v, want ErrNoEngine naming Debian's docker.io", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(opts.StateDir, "leases")); len(entries) != 0 {
		t.Errorf("a failed Ensure left %d leases behind", len(entries))
	}
}
