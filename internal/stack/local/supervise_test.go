package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/phclient"
	"github.com/shakedown-dev/shakedown/suites/e2e"
)

// upStack starts a stack for one test, logging warnings to the test log, and stops it
// afterwards.
func upStack(t *testing.T, opts Options) *Stack {
	t.Helper()
	opts.Listen = "127.0.0.1:0"
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := Up(context.Background(), opts)
	if err != nil {
		t.Fatalf("local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("stop stack: %v", err)
		}
	})
	return s
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// killAndAwaitRestart SIGKILLs the server's main process (not its group, as a crash
// or the OOM killer would) and waits until the supervisor has it running again.
func killAndAwaitRestart(t *testing.T, s *Stack, name string, c interface {
	child
	Pid() int
}) {
	t.Helper()
	old, done := c.Pid(), c.Done()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s: %v", name, err)
	}
	<-done
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-c.Done():
		default:
			if c.Pid() != old {
				t.Logf("%s killed (pid %d) and restarted (pid %d)", name, old, c.Pid())
				return
			}
		}
		if err := s.Err(); err != nil {
			t.Fatalf("stack gave up on %s: %v", name, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not restarted within 90s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKilledDatastoresRestartWithoutLoss kills ClickHouse and then PostgreSQL with
// SIGKILL while events stream in: both come back on their data, and every event
// capture acknowledged is stored exactly once.
func TestKilledDatastoresRestartWithoutLoss(t *testing.T) {
	ctx := context.Background()
	s := upStack(t, Options{RestartBackoff: 100 * time.Millisecond, WorkerBatchSize: 200})
	events := e2e.Generate(7, 6000, 300)

	type sent struct {
		res e2e.SendResult
		err error
	}
	results := make(chan sent, 3)
	send := func(part []phclient.Event, seed uint64) {
		res, err := e2e.Send(ctx, s.Endpoints.CaptureURL, s.Endpoints.Token, part, e2e.SendOptions{Seed: seed, Concurrency: 2, MaxBatch: 20, Retries: 50})
		results <- sent{res, err}
	}
	go send(events[:2000], 1)
	time.Sleep(300 * time.Millisecond)
	killAndAwaitRestart(t, s, "clickhouse-server", s.ch)
	go send(events[2000:4000], 2)
	time.Sleep(300 * time.Millisecond)
	killAndAwaitRestart(t, s, "postgres", s.pg)
	go send(events[4000:], 3)

	var acked []string
	for i := 0; i < 3; i++ {
		r := <-results
		if r.err != nil {
			t.Errorf("send: %v", r.err)
		}
		acked = append(acked, r.res.Acked...)
	}
	stored, err := e2e.WaitStored(ctx, s.ClickHouse, s.Database, acked, 2*time.Minute)
	t.Logf("drill: %d events sent, %d acknowledged, %d stored (FINAL), %d distinct, %d raw rows before folding",
		len(events), len(acked), stored.Rows, stored.Distinct, stored.RawRows)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Rows != uint64(len(acked)) || stored.Distinct != uint64(len(acked)) {
		t.Fatalf("stored %d rows (FINAL), %d distinct; want exactly the %d acknowledged", stored.Rows, stored.Distinct, len(acked))
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stack reports failure after successful restarts: %v", err)
	}
	if code, body := readiness(t, s); code != http.StatusOK {
		t.Fatalf("readiness after the restarts: %d %s", code, body)
	}
}

// TestUnrestartableChildFailsTheStack breaks ClickHouse's config, then kills it: the
// restarts fail and the stack reports why on Done/Err.
func TestUnrestartableChildFailsTheStack(t *testing.T) {
	s := upStack(t, Options{MaxRestarts: 2, RestartBackoff: 50 * time.Millisecond})
	if err := os.WriteFile(filepath.Join(s.ch.Dir, "config.xml"), []byte("<yandex><broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.ch.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(2 * time.Minute):
		t.Fatal("the stack did not report failure within 2 minutes")
	}
	err := s.Err()
	if err == nil || !strings.Contains(err.Error(), "clickhouse-server died and 2 restarts in a row failed") {
		t.Fatalf("Err() = %v; want it to name clickhouse-server and the failed restarts", err)
	}
	t.Logf("reported: %.300s", err)
}

// TestCrashLoopFailsTheStack: a child that restarts fine but dies again at
// once, again and again, continues one failure streak (each restart must last
// stableUptime to start a new one), so the stack reports failure instead of
// restarting it forever.
func TestCrashLoopFailsTheStack(t *testing.T) {
	s := upStack(t, Options{MaxRestarts: 2, RestartBackoff: 50 * time.Millisecond})
	deadline := time.After(2 * time.Minute)
	for kills := 0; ; kills++ {
		pid := s.ch.Pid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Wait for the next run (a new pid) or for the stack to give up.
		for s.ch.Pid() == pid {
			select {
			case <-s.Done():
				if kills != 2 {
					t.Errorf("the stack gave up after %d kills, want after the third death (MaxRestarts 2)", kills+1)
				}
				if err := s.Err(); err == nil || !strings.Contains(err.Error(), "did not last") {
					t.Errorf("Err() = %v; want it to say the restarts did not last", err)
				}
				return
			case <-deadline:
				t.Fatalf("after %d kills the stack neither restarted ClickHouse nor gave up", kills+1)
			case <-time.After(20 * time.Millisecond):
			}
		}
		waitReady(t, s)
	}
}

// waitReady waits until ClickHouse answers again after a restart.
func waitReady(t *testing.T, s *Stack) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if s.ClickHouse.Ping(context.Background()) == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("ClickHouse did not answer within 15 s of its restart")
}

// readiness fetches capture's /_readiness.
func readiness(t *testing.T, s *Stack) (int, string) {
	t.Helper()
	resp, err := http.Get(s.Endpoints.CaptureURL + "/_readiness")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestPausedPostgres stops the whole PostgreSQL (SIGSTOP): a token never seen gets 503
// with Retry-After within 1 s, the stack's own (validated) token keeps capturing, and
// /_readiness names the token store.
func TestPausedPostgres(t *testing.T) {
	s := upStack(t, Options{})
	post := func(token, id string) (*http.Response, time.Duration) {
		body := fmt.Sprintf(`{"api_key":%q,"batch":[{"event":"e","distinct_id":%q}]}`, token, id)
		start := time.Now()
		resp, err := http.Post(s.Endpoints.CaptureURL+"/batch", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp, time.Since(start)
	}
	if resp, _ := post(s.Endpoints.Token, "before"); resp.StatusCode != http.StatusOK {
		t.Fatalf("own token before the pause: %d", resp.StatusCode)
	}
	if err := s.pg.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.pg.Signal(syscall.SIGCONT) })

	resp, took := post("phc_never_seen_before", "x")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || took > time.Second {
		t.Fatalf("unseen token with PostgreSQL paused: %d Retry-After=%q after %s; want 503 with Retry-After within 1s",
			resp.StatusCode, resp.Header.Get("Retry-After"), took)
	}
	if resp, took := post(s.Endpoints.Token, "during"); resp.StatusCode != http.StatusOK || took > time.Second {
		t.Fatalf("own token with PostgreSQL paused: %d after %s; want 200 from the cache", resp.StatusCode, took)
	}
	time.Sleep(1100 * time.Millisecond) // past the readiness cache
	code, body := readiness(t, s)
	var rep struct{ Failing map[string]string }
	_ = json.Unmarshal([]byte(body), &rep)
	if code != http.StatusServiceUnavailable || rep.Failing["postgres (token store)"] == "" {
		t.Fatalf("readiness with PostgreSQL paused: %d %s; want 503 naming the token store", code, body)
	}
	if err := s.pg.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := readiness(t, s); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readiness not 200 within 30s after PostgreSQL resumed")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestKeepDirSurvivesRestart brings a stack up twice on the same KeepDir: the second
// finds the first one's events and token.
func TestKeepDirSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "shakedown-keep-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	first, err := Up(ctx, Options{Listen: "127.0.0.1:0", KeepDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	events := e2e.Generate(3, 200, 20)
	res, err := e2e.Send(ctx, first.Endpoints.CaptureURL, first.Endpoints.Token, events, e2e.SendOptions{Seed: 3})
	if err == nil {
		_, err = e2e.WaitStored(ctx, first.ClickHouse, first.Database, res.Acked, time.Minute)
	}
	if _, lockErr := Up(ctx, Options{Listen: "127.0.0.1:0", KeepDir: dir}); lockErr == nil || !strings.Contains(lockErr.Error(), "in use") {
		t.Errorf("a second stack on a kept dir in use: %v; want refused", lockErr)
	}
	token := first.Endpoints.Token
	if cerr := first.Close(ctx); cerr != nil || err != nil {
		t.Fatalf("first stack: %v; close: %v", err, cerr)
	}

	second := upStack(t, Options{KeepDir: dir})
	if second.Endpoints.Token != token {
		t.Errorf("token after restart = %q, want the kept %q", second.Endpoints.Token, token)
	}
	stored, err := e2e.CountStored(ctx, second.ClickHouse, second.Database, res.Acked)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Rows != uint64(len(res.Acked)) || len(res.Acked) != len(events) {
		t.Fatalf("second stack holds %d of %d acknowledged events (%d sent)", stored.Rows, len(res.Acked), len(events))
	}
	// The kept token works for capture without being recreated by hand.
	more, err := e2e.Send(ctx, second.Endpoints.CaptureURL, token, e2e.Generate(4, 10, 2), e2e.SendOptions{Seed: 4})
	if err != nil || len(more.Acked) != 10 {
		t.Fatalf("capture with the kept token: %v (%d acknowledged)", err, len(more.Acked))
	}
}

// TestKeepDirMustBeReachable: as root the database servers run as their own
// users; a keep directory below one only root may enter is refused up front,
// naming the directory and the fix, instead of failing to exec the server.
func TestKeepDirMustBeReachable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root do the servers run as other users (this machine's tests run as root)")
	}
	private := t.TempDir() // 0700, root's
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Up(context.Background(), Options{Listen: "127.0.0.1:0", KeepDir: filepath.Join(private, "keep")})
	if err == nil || !strings.Contains(err.Error(), private) || !strings.Contains(err.Error(), "chmod o+x") {
		t.Fatalf("Up with a keep dir below a private one = %v, want an error naming %s and the fix", err, private)
	}
}

// TestCloseStoresEveryAcknowledgedEvent: Kafka lives in the process, so a
// graceful Close must let the worker store every event capture acknowledged.
// The events are acknowledged while the worker is stopped, and Close comes
// right after it restarts: nothing of them has been fetched yet.
func TestCloseStoresEveryAcknowledgedEvent(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "shakedown-drain-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	first, err := Up(ctx, Options{Listen: "127.0.0.1:0", KeepDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.StopWorker(); err != nil {
		t.Fatal(err)
	}
	res, err := e2e.Send(ctx, first.Endpoints.CaptureURL, first.Endpoints.Token, e2e.Generate(5, 300, 30), e2e.SendOptions{Seed: 5})
	if err == nil {
		err = first.StartWorker()
	}
	if cerr := first.Close(ctx); cerr != nil || err != nil {
		t.Fatalf("first stack: %v; close: %v", err, cerr)
	}
	second := upStack(t, Options{KeepDir: dir})
	stored, err := e2e.CountStored(ctx, second.ClickHouse, second.Database, res.Acked)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Rows != uint64(len(res.Acked)) || len(res.Acked) != 300 {
		t.Fatalf("after a graceful stop the kept store holds %d of %d acknowledged events", stored.Rows, len(res.Acked))
	}
}
