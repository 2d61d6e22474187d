package worker

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestGracefulShutdownFlushesPartialBatch consumes fewer messages than a batch with a
// flush interval that never fires: nothing is inserted until the worker is stopped, and
// stopping inserts and commits all of them.
func TestGracefulShutdownFlushesPartialBatch(t *testing.T) {
	e := newEnv(t, 2)
	p := e.producer(t)
	e.produce(t, p, e.plainEvents(0, 37, 5)...)

	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.BatchSize, cfg.FlushInterval, cfg.Registerer = 1000, time.Hour, reg
	stop := runWorker(t, cfg)
	waitFor(t, time.Minute, "37 messages consumed", func() (bool, string) {
		n := consumedTotal(t, reg)
		return n == 37, "consumed " + itoa(int64(n))
	})
	time.Sleep(200 * time.Millisecond)
	if n := e.chCount(t, "SELECT count() FROM {db}.events"); n != 0 {
		t.Fatalf("%d rows before shutdown: the batch was not partial, the test proves nothing", n)
	}
	if n := e.committed(t, cfg.Group); n != 0 {
		t.Fatalf("committed %d before the rows were inserted", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL"); n != 37 {
		t.Errorf("rows after shutdown = %d, want 37", n)
	}
	if n := e.committed(t, cfg.Group); n != 37 {
		t.Errorf("committed after shutdown = %d, want 37", n)
	}
}

func consumedTotal(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	return counterValue(t, reg, "shakedown_worker_messages_consumed_total")
}
