package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/internal/stack/local/localtest"
)

// BenchmarkEndToEnd measures events/s from HTTP send to rows queryable in ClickHouse on
// the local stack, with 100-event batches in mixed encodings.
func BenchmarkEndToEnd(b *testing.B) {
	ctx := context.Background()
	s := localtest.Up(b, local.Options{})
	events := Generate(1, 100*b.N, 10_000)
	b.ResetTimer()
	start := time.Now()
	res, err := Send(ctx, s.Endpoints.CaptureURL, s.Endpoints.Token, events, SendOptions{Seed: 2, MaxBatch: 100, Concurrency: 8})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := WaitStored(ctx, s.ClickHouse, s.Database, res.Acked, 5*time.Minute); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(events))/time.Since(start).Seconds(), "events/s")
}
