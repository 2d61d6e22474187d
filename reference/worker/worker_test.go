package worker

import (
	"context"
	"testing"
	"time"
)

// TestTenThousandEventsLandExactlyOnce consumes 10,000 events over 4 partitions with
// duplicates redelivered in the stream and checks ClickHouse holds each uuid exactly once.
func TestTenThousandEventsLandExactlyOnce(t *testing.T) {
	e := newEnv(t, 4)
	p := e.producer(t)
	msgs := e.plainEvents(0, 10_000, 97)
	msgs = append(msgs, msgs[:500]...) // redelivered duplicates, as capture retries would make
	e.produce(t, p, msgs...)

	cfg := e.config()
	cfg.BatchSize = 2000
	stop := runWorker(t, cfg)
	e.waitRows(t, 10_000, 2*time.Minute)
	// The rows are all in before the last duplicates are even polled: wait until
	// every message is committed (within a minute), not just until the rows are in.
	e.waitCommitted(t, cfg.Group, len(msgs))
	if err := stop(); err != nil {
		t.Fatalf("worker: %v", err)
	}

	if n := e.chCount(t, "SELECT uniqExact(uuid) FROM {db}.events"); n != 10_000 {
		t.Errorf("uniqExact(uuid) = %d, want 10000", n)
	}
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL"); n != 10_000 {
		t.Errorf("count() FINAL = %d, want 10000", n)
	}
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL WHERE person_id = toUUID('00000000-0000-0000-0000-000000000000') OR team_id != "+itoa(e.team)); n != 0 {
		t.Errorf("%d rows without a person or with a wrong team", n)
	}
	if got := e.committed(t, cfg.Group); got != int64(len(msgs)) {
		t.Errorf("committed offsets sum to %d after the stop, want %d (every message)", got, len(msgs))
	}
	var persons int
	if err := e.pg.QueryRow(context.Background(), "SELECT count(*) FROM persons").Scan(&persons); err != nil {
		t.Fatal(err)
	}
	if persons != 97 {
		t.Errorf("persons = %d, want 97 (one per distinct_id)", persons)
	}
}
