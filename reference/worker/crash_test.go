package worker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// Environment of the worker child process.
const (
	envHelper  = "SHAKEDOWN_WORKER_HELPER"
	envBrokers = "SHAKEDOWN_WORKER_BROKERS"
	envCHAddr  = "SHAKEDOWN_WORKER_CH_ADDR"
	envCHDB    = "SHAKEDOWN_WORKER_CH_DB"
	envCHUser  = "SHAKEDOWN_WORKER_CH_USER"
	envCHPass  = "SHAKEDOWN_WORKER_CH_PASSWORD"
	envPGDSN   = "SHAKEDOWN_WORKER_PG_DSN"
	envBatch   = "SHAKEDOWN_WORKER_BATCH"
	// envCrashAfter makes the child kill itself after that many inserts, before committing.
	envCrashAfter = "SHAKEDOWN_WORKER_CRASH_AFTER_INSERTS"
)

// runWorkerChild runs a worker configured by the environment until SIGTERM; with
// envCrashAfter=N it SIGKILLs itself right after its N-th insert, before the commit.
func runWorkerChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "worker child:", err); return 1 }
	ch, err := clickhouse.Open(&clickhouse.Options{Addr: []string{os.Getenv(envCHAddr)},
		Auth: clickhouse.Auth{Username: os.Getenv(envCHUser), Password: os.Getenv(envCHPass)}})
	if err != nil {
		return fail(err)
	}
	defer ch.Close()
	pg, err := pgxpool.New(ctx, os.Getenv(envPGDSN))
	if err != nil {
		return fail(err)
	}
	defer pg.Close()
	batch, _ := strconv.Atoi(os.Getenv(envBatch))
	w, err := New(Config{
		Brokers: strings.Split(os.Getenv(envBrokers), ","), Group: "crash",
		BatchSize: batch, FlushInterval: 50 * time.Millisecond,
		ClickHouse: ch, Database: os.Getenv(envCHDB), Postgres: pg,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		KafkaOptions: []kgo.Opt{kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)},
	})
	if err != nil {
		return fail(err)
	}
	if n, _ := strconv.Atoi(os.Getenv(envCrashAfter)); n > 0 {
		inserts := 0
		w.afterInsert = func() {
			if inserts++; inserts == n {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way: commit nothing
			}
		}
	}
	if err := w.Run(ctx); err != nil {
		return fail(err)
	}
	return 0
}

// startWorkerProcess re-executes the test binary as a worker on e.
func (e *env) startWorkerProcess(t *testing.T, batch int, extraEnv ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envHelper+"=1", envBrokers+"="+strings.Join(e.brokers, ","),
		envCHAddr+"="+e.chAddr, envCHDB+"="+e.chDB, envCHUser+"="+shared.ch.User, envCHPass+"="+shared.ch.Password, envPGDSN+"="+e.pgDSN, envBatch+"="+strconv.Itoa(batch))
	cmd.Env = append(cmd.Env, extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker process: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &out
}

// TestWorkerSurvivesSIGKILL streams 10,000 events while the worker runs in a child
// process, SIGKILLs it mid-stream, restarts it, and checks every event landed exactly
// once as readers see it (FINAL, uniqExact) with nothing lost.
func TestWorkerSurvivesSIGKILL(t *testing.T) {
	const total = 10_000
	e := newEnv(t, 4)
	p := e.producer(t)
	msgs := e.plainEvents(0, total, 211)

	// Stream the events in small paced chunks so the kill lands mid-stream.
	produced := make(chan error, 1)
	go func() {
		defer close(produced)
		for i := 0; i < total; i += 250 {
			recs := make([]*kgo.Record, 0, 250)
			for _, m := range msgs[i:min(i+250, total)] {
				v, _ := m.Encode()
				recs = append(recs, &kgo.Record{Topic: e.topic, Key: m.Key(), Value: v})
			}
			if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				produced <- err
				return
			}
			time.Sleep(40 * time.Millisecond)
		}
	}()

	first, out := e.startWorkerProcess(t, 300)
	waitFor(t, time.Minute, "the first worker to insert some events", func() (bool, string) {
		n := e.chCount(t, "SELECT uniqExact(uuid) FROM {db}.events")
		return n >= 1500, fmt.Sprintf("%d distinct uuids", n)
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	atKill := e.chCount(t, "SELECT uniqExact(uuid) FROM {db}.events")
	committedAtKill := e.committed(t, "crash")
	t.Logf("killed the worker with %d events in ClickHouse and %d offsets committed", atKill, committedAtKill)
	if atKill >= total {
		t.Fatalf("all %d events were in before the kill: it did not land mid-stream", total)
	}

	second, out2 := e.startWorkerProcess(t, 300)
	if err, ok := <-produced; ok && err != nil {
		t.Fatalf("produce: %v", err)
	}
	e.finishRestarted(t, second, out2, total)
	if t.Failed() {
		t.Logf("first worker output:\n%s", out)
	}

	if n := e.chCount(t, "SELECT uniqExact(uuid) FROM {db}.events"); n != total {
		t.Errorf("uniqExact(uuid) = %d, want %d", n, total)
	}
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL"); n != total {
		t.Errorf("count() FINAL = %d, want %d", n, total)
	}
	if lost := e.missingUUIDs(t, msgs); len(lost) > 0 {
		t.Errorf("%d produced events are not in ClickHouse, e.g. %s", len(lost), lost[0])
	}
	raw := e.chCount(t, "SELECT count() FROM {db}.events")
	t.Logf("rows before folding: %d (duplicates replayed after the kill: %d)", raw, raw-total)
}

// missingUUIDs returns the uuids of msgs that are not in e's events table.
func (e *env) missingUUIDs(t *testing.T, msgs []event.Message) []string {
	t.Helper()
	rows, err := e.ch.Query(context.Background(), "SELECT DISTINCT toString(uuid) FROM `"+e.chDB+"`.events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		have[id] = true
	}
	var missing []string
	for _, m := range msgs {
		if !have[m.UUID] {
			missing = append(missing, m.UUID)
		}
	}
	return missing
}

// TestWorkerKilledBetweenInsertAndCommit kills the worker in the one window where a
// crash must cause a replay: rows inserted, offsets not committed. The replayed rows
// are written again and folded, so readers still see each event exactly once.
func TestWorkerKilledBetweenInsertAndCommit(t *testing.T) {
	const total = 3_000
	e := newEnv(t, 2)
	p := e.producer(t)
	msgs := e.plainEvents(0, total, 97)
	recs := make([]*kgo.Record, 0, total)
	for _, m := range msgs {
		v, _ := m.Encode()
		recs = append(recs, &kgo.Record{Topic: e.topic, Key: m.Key(), Value: v})
	}
	if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	first, out := e.startWorkerProcess(t, 200, envCrashAfter+"=3")
	err := first.Wait()
	if ws, ok := first.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the first worker should have killed itself after its third insert, ended with %v\n%s", err, out)
	}
	inserted := e.chCount(t, "SELECT count() FROM {db}.events")
	committed := e.committed(t, "crash")
	if int64(inserted) <= committed {
		t.Fatalf("at the kill %d rows were inserted and %d offsets committed: the kill missed the insert-commit window", inserted, committed)
	}

	// Keep ClickHouse from folding the replayed rows in the background, so the raw count
	// shows the replay; FINAL still folds them at query time.
	table := "`" + e.chDB + "`.events"
	if err := e.ch.Exec(context.Background(), "SYSTEM STOP MERGES "+table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.ch.Exec(context.Background(), "SYSTEM START MERGES "+table) })

	second, out2 := e.startWorkerProcess(t, 200)
	e.finishRestarted(t, second, out2, total)
	raw := e.chCount(t, "SELECT count() FROM {db}.events")
	if raw <= total {
		t.Errorf("raw rows = %d: the uncommitted batch was not replayed (want more than %d before folding)", raw, total)
	}
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL"); n != total {
		t.Errorf("count() FINAL = %d, want %d", n, total)
	}
	if n := e.chCount(t, "SELECT uniqExact(uuid) FROM {db}.events"); n != total {
		t.Errorf("uniqExact(uuid) = %d, want %d", n, total)
	}
	if lost := e.missingUUIDs(t, msgs); len(lost) > 0 {
		t.Errorf("%d produced events are not in ClickHouse, e.g. %s", len(lost), lost[0])
	}
	t.Logf("killed after 3 inserts: %d rows inserted, %d offsets committed; after restart %d raw rows folded to %d", inserted, committed, raw, total)
}

// finishRestarted waits until the restarted worker has stored total events and committed
// every offset, then stops it with SIGTERM and checks it exits cleanly.
func (e *env) finishRestarted(t *testing.T, worker *exec.Cmd, out *bytes.Buffer, total int) {
	t.Helper()
	e.waitRows(t, uint64(total), 2*time.Minute)
	waitFor(t, time.Minute, "all offsets committed", func() (bool, string) {
		n := e.committed(t, "crash")
		return n == int64(total), fmt.Sprintf("committed %d", n)
	})
	if err := worker.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := worker.Wait(); err != nil {
		t.Errorf("restarted worker did not stop cleanly: %v\n%s", err, out)
	}
}
