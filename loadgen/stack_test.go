package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/loadgen/ingest"
	"github.com/shakedown-dev/shakedown/loadgen/pace"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

// TestShortLoadAgainstLocalStack sends 2 s of realistic mixed traffic to a real
// local stack: every request must be accepted, and sampled events must become
// queryable in ClickHouse with their latency recorded.
func TestShortLoadAgainstLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local reference stack")
	}
	ctx := context.Background()
	s, err := local.Up(ctx, local.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("stop stack: %v", err)
		}
	})
	gen, err := traffic.New(traffic.Options{
		BaseURL: s.Endpoints.CaptureURL, Token: s.Endpoints.Token, Seed: uint64(time.Now().UnixNano()),
		Epoch: time.Now(), SampleEvery: 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	pacer, err := pace.New(pace.Spec{Kind: "constant", Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rec := Prepare(start, pacer, 0)
	tracker := ingest.New(s.ClickHouse, ingest.Options{Database: s.Database, Timeout: 20 * time.Second, FoundAt: rec.AddE2EAt, Lost: rec.AddE2ELost})
	attackCtx, endAttack := context.WithCancel(ctx)
	drainCtx, endDrain := context.WithTimeout(ctx, 25*time.Second)
	defer endDrain()
	polled := make(chan error, 1)
	go func() { polled <- tracker.Run(attackCtx, drainCtx) }()
	_, err = Run(ctx, Attack{
		Targeter: gen.Targeter(ctx, func(tg *traffic.Target) { tracker.Sent(time.Now(), tg.Sampled...) }),
		Pacer:    pacer, Duration: 2 * time.Second, Recorder: rec,
	})
	endAttack()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	sum := rec.Summary()
	t.Logf("sent %d, codes %v, e2e %d samples p50 %s p95 %s, lost %d", sum.Requests, sum.Codes, sum.E2E.Count, sum.E2E.P50, sum.E2E.P95, sum.E2ELost)
	if sum.Requests < 150 || sum.Codes[200] != sum.Requests {
		t.Errorf("want every request answered 200: codes %v, errors %+v", sum.Codes, sum.TopErrors)
	}
	if sum.E2E.Count < 5 || sum.E2ELost > 0 {
		t.Errorf("e2e: %d samples, %d lost", sum.E2E.Count, sum.E2ELost)
	}
}
