package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/shakedown-dev/shakedown/suites/e2e"
)

// TestSIGTERMMidStreamLosesNothing is the SIGTERM drill: `stack up --keep DIR`
// is stopped (as SIGTERM stops it) while events stream in; a second
// `stack up --keep DIR` must then hold every event the first acknowledged,
// exactly once. Events sent after the stop are refused, never acknowledged.
func TestSIGTERMMidStreamLosesNothing(t *testing.T) {
	// Not t.TempDir(): its parent is private to root, and the database servers
	// run as their own users (stack up refuses such a directory, see below).
	keep, err := os.MkdirTemp("", "shakedown-sigterm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(keep) })
	first := startStackUp(t, "--keep", keep)
	events := e2e.Generate(11, 3000, 200)
	go func() {
		time.Sleep(2 * time.Second)
		first.cancel() // what SIGTERM does: the command's context ends
	}()
	sent, err := e2e.Send(context.Background(), first.endpoints.CaptureURL, first.endpoints.Token, events,
		e2e.SendOptions{Seed: 11, Concurrency: 8, MaxBatch: 20, Over: 6 * time.Second, RetryFor: 200 * time.Millisecond, KeepGoing: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-first.done; err != nil {
		t.Fatalf("stack up after SIGTERM: %v\n%s", err, first.stderr.String())
	}
	first.done <- nil // for the cleanup
	if len(sent.Acked) == 0 || len(sent.Refused) == 0 {
		t.Fatalf("the stop must fall mid-stream: %d acknowledged, %d refused", len(sent.Acked), len(sent.Refused))
	}

	second := startStackUp(t, "--keep", keep)
	e := second.endpoints
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{e.ClickHouseNative},
		Auth: clickhouse.Auth{Username: e.ClickHouseUser, Password: e.ClickHousePassword}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stored, err := e2e.WaitStored(context.Background(), conn, "default", sent.Acked, 30*time.Second)
	if err != nil {
		t.Fatalf("after SIGTERM mid-stream: %v (acknowledged %d)", err, len(sent.Acked))
	}
	n := uint64(len(sent.Acked))
	t.Logf("SIGTERM drill: sent %d, acknowledged %d, refused %d, stored %d (%d distinct, %d rows before folding)",
		len(events), n, len(sent.Refused), stored.Rows, stored.Distinct, stored.RawRows)
	if stored.Rows != n || stored.Distinct != n {
		t.Errorf("acknowledged %d, stored %d rows (%d distinct)", n, stored.Rows, stored.Distinct)
	}
}
