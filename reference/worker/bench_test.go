package worker

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkWorkerThroughput measures events per second from Kafka (kfake, 4 partitions)
// to rows inserted in a real clickhouse-server, with persons in a real PostgreSQL
// (1,000 distinct users). The topic is filled before the clock starts.
func BenchmarkWorkerThroughput(b *testing.B) {
	n := max(b.N, 1000)
	e := newEnv(b, 4)
	e.produce(b, e.producer(b), e.plainEvents(0, n, 1000)...)

	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.Logger, cfg.Registerer, cfg.BatchSize = nil, reg, 5000
	w, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	b.ResetTimer()
	start := time.Now()
	go func() { done <- w.Run(ctx) }()
	for inserted := 0.0; inserted < float64(n); {
		time.Sleep(5 * time.Millisecond)
		inserted = counterValue(b, reg, "shakedown_worker_events_inserted_total")
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if got := e.chCount(b, "SELECT count() FROM {db}.events FINAL"); got != uint64(n) {
		b.Fatalf("rows = %d, want %d", got, n)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
}

func counterValue(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
