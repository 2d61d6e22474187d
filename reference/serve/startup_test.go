package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestStartupAnswersLivenessWhileDependenciesStart: pods of a release start in any
// order, so a component whose PostgreSQL or Kafka is not up yet keeps retrying, tells
// the kubelet it is alive (no restart) and not ready (no traffic), and proceeds once
// they answer.
func TestStartupAnswersLivenessWhileDependenciesStart(t *testing.T) {
	addr := freeAddr(t)
	var tries atomic.Int32
	up := make(chan struct{})
	cfg := Config{Listen: addr, StartupWait: time.Minute}
	done := make(chan error, 1)
	go func() {
		done <- awaitDependencies(context.Background(), cfg, slog.New(slog.DiscardHandler), func(context.Context) error {
			tries.Add(1)
			select {
			case <-up:
				return nil
			default:
				return errors.New("postgres: connection refused")
			}
		})
	}()
	get := func(path string) (int, string) {
		t.Helper()
		for i := 0; i < 100; i++ {
			resp, err := http.Get("http://" + addr + path)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("nothing answers on %s while waiting for dependencies", addr)
		return 0, ""
	}
	if code, _ := get("/_liveness"); code != http.StatusOK {
		t.Errorf("/_liveness answered %d while starting, want 200 (a 5xx gets the pod restarted)", code)
	}
	code, body := get("/_readiness")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for dependencies") {
		t.Errorf("/_readiness answered %d %q while starting, want 503 saying it waits", code, body)
	}
	if strings.Contains(body, "connection refused") {
		t.Errorf("/_readiness tells any client the dependency's error %q: it names hosts and users; it belongs in the log", body)
	}
	if code, _ := get("/e/"); code != http.StatusServiceUnavailable {
		t.Errorf("/e/ answered %d while starting, want 503", code)
	}
	for tries.Load() < 2 {
		time.Sleep(50 * time.Millisecond)
	}
	close(up)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dependencies came up, but: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still waiting after the dependencies came up")
	}
	// The starting listener is gone: the component's own server binds the address.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen address still held after start-up: %v", err)
	}
	l.Close()
}

func TestStartupGivesUpAfterStartupWait(t *testing.T) {
	cfg := Config{Listen: freeAddr(t), StartupWait: 1500 * time.Millisecond}
	start := time.Now()
	err := awaitDependencies(context.Background(), cfg, slog.New(slog.DiscardHandler), func(context.Context) error {
		return errors.New("kafka: no broker")
	})
	if err == nil || !strings.Contains(err.Error(), "STARTUP_WAIT=1.5s") || !strings.Contains(err.Error(), "kafka: no broker") {
		t.Fatalf("err = %v, want the last error and STARTUP_WAIT named", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("gave up after %s, want about 1.5 s", time.Since(start))
	}
	// Zero waits for nothing: the first error is the answer (a library caller's default).
	cfg.StartupWait = 0
	calls := 0
	if err := awaitDependencies(context.Background(), cfg, slog.New(slog.DiscardHandler), func(context.Context) error {
		calls++
		return errors.New("down")
	}); err == nil || calls != 1 {
		t.Errorf("StartupWait 0: err %v after %d tries, want the first error", err, calls)
	}
	if _, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"STARTUP_WAIT": "soon", "COMPONENT": Decide, "POSTGRES_DSN": "postgres://x"}[k]
	}, ""); err == nil || !strings.Contains(err.Error(), "STARTUP_WAIT") {
		t.Errorf("STARTUP_WAIT=soon accepted: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestStartupDoesNotWaitOutAWrongPassword(t *testing.T) {
	wrong := fmt.Errorf("postgres migrations: %w", &pgconn.PgError{Code: "28P01", Message: "password authentication failed"})
	start := time.Now()
	err := awaitDependencies(context.Background(), Config{Listen: freeAddr(t), StartupWait: time.Minute}, slog.New(slog.DiscardHandler),
		func(context.Context) error { return wrong })
	if !errors.Is(err, wrong) || time.Since(start) > 10*time.Second {
		t.Errorf("a refused password: %v after %s, want it at once (waiting cannot cure it)", err, time.Since(start))
	}
	if permanent(errors.New("dial tcp 10.96.0.5:5432: connect: connection refused")) {
		t.Error("a refused connection counted as permanent: the server may still be starting")
	}
}
