package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

// BenchmarkAttackPathVsBareVegeta measures how close `shakedown load`'s attack path
// (traffic targeter, intended-time schedule, HDR recorder, per-second buckets,
// progress ticks) comes to bare vegeta (static targeter over the same requests,
// vegeta.Metrics) against a trivial local endpoint, in the same run: both attack
// as fast as 64 workers can for 2 s, alternately, and the best of each is kept.
//
//	go test ./loadgen -run XXX -bench AttackPath -benchtime 1x
//
// Reports bare_rps, shakedown_rps and ratio (want >= 0.9).
func BenchmarkAttackPathVsBareVegeta(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":1}`))
	}))
	defer srv.Close()
	ctx := context.Background()
	gen, err := traffic.New(traffic.Options{BaseURL: srv.URL, Token: "phc_bench", Seed: 1, Pool: 2000})
	if err != nil {
		b.Fatal(err)
	}
	if err := gen.Warm(ctx); err != nil {
		b.Fatal(err)
	}
	var pool []vegeta.Target
	for i := uint64(0); i < 2000; i++ {
		t, _ := gen.At(ctx, i)
		pool = append(pool, t.Target)
	}
	const (
		workers = 64
		dur     = 2 * time.Second
	)
	pacer := vegeta.ConstantPacer{Freq: 1_000_000, Per: time.Second} // far above what 2 cores reach

	bare := func() float64 {
		atk := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(workers), vegeta.KeepAlive(true), vegeta.MaxBody(4<<10))
		var m vegeta.Metrics
		for res := range atk.Attack(vegeta.NewStaticTargeter(pool...), pacer, dur, "bare") {
			m.Add(res)
		}
		m.Close()
		return float64(m.Requests) / dur.Seconds()
	}
	ours := func() float64 {
		rec, err := Run(ctx, Attack{Targeter: gen.Targeter(ctx, func(*traffic.Target) {}), Pacer: pacer, Duration: dur,
			Workers: workers, MaxWorkers: workers, Tick: func(Progress) {}})
		if err != nil {
			b.Fatal(err)
		}
		return float64(rec.Summary().Requests) / dur.Seconds()
	}
	var bestBare, bestOurs float64
	for b.Loop() {
		for round := 0; round < 2; round++ {
			bestBare = max(bestBare, bare())
			bestOurs = max(bestOurs, ours())
		}
	}
	b.ReportMetric(bestBare, "bare_rps")
	b.ReportMetric(bestOurs, "shakedown_rps")
	b.ReportMetric(bestOurs/bestBare, "ratio")
	if bestOurs < 0.9*bestBare {
		b.Errorf("shakedown attack path %.0f req/s is below 90%% of bare vegeta's %.0f req/s", bestOurs, bestBare)
	}
}

// BenchmarkRealisticVsBareVegeta compares shakedown's realistic traffic (every
// event its own uuid and timestamp, the default mix of kinds and encodings) with
// bare vegeta attackers, against the local reference stack started in-process
// (kfake, capture, decide and worker here; ClickHouse and PostgreSQL as child
// processes). Every iteration is one Baseline round: an attack per side at a
// saturating 50,000/s for 3 s with 256 workers each, the order alternating
// between iterations: bare vegeta with one static body per kind and encoding
// of the stream, in its mix (see staticMix); bare vegeta sending fresh
// requests of the stream built before the attack; and loadgen.Run with the
// generator building them during the attack. Medians over the iterations are
// reported.
//
//	go test ./loadgen -run XXX -bench RealisticVsBare -benchtime 5x -v
//
// Reports bare_rps, prebuilt_rps and realistic_rps (successful requests per
// second), ratio (realistic/bare) and prebuilt_ratio (realistic/prebuilt: the
// cost of building targets during the attack alone, the same events reaching
// the target; the goal is >= 0.9).
func BenchmarkRealisticVsBareVegeta(b *testing.B) {
	ctx := context.Background()
	s, err := local.Up(ctx, local.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatalf("local stack: %v", err)
	}
	b.Cleanup(func() {
		// Every side saturates capture, which acknowledges faster than the one
		// worker stores: the backlog can outlast the stop's 30 s drain. That is
		// the local stack's capacity, reported here, not what is measured.
		if err := s.Close(context.Background()); err != nil {
			b.Logf("stop stack: %v", err)
		}
	})
	opts := BaselineOptions{
		Traffic: traffic.Options{BaseURL: s.Endpoints.CaptureURL, Token: s.Endpoints.Token, Seed: uint64(time.Now().UnixNano())},
		Runs:    1,
		Progress: func(_ int, side string, a BaselineAttack) {
			b.Logf("%-9s %6.0f req/s ok (%d sent, codes %v)", side, a.Rate, a.Requests, a.Codes)
		},
	}
	var runs []BaselineRun
	for i := 0; b.Loop(); i++ {
		opts.Traffic.Seed += 1000
		opts.Reversed = i%2 == 1
		res, err := Baseline(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.Logf("bare: %d static requests, mean %.0f bytes, %.1f events (stream mean %.0f bytes, %.1f events)",
				len(res.Statics), res.StaticMeanBytes, res.StaticMeanEvents, res.MeanBytes, res.MeanEvents)
		}
		runs = append(runs, res.Runs...)
		opts.Warmup = -1
	}
	b.ReportMetric(median(runs, func(r BaselineRun) float64 { return r.Bare.Rate }), "bare_rps")
	b.ReportMetric(median(runs, func(r BaselineRun) float64 { return r.Prebuilt.Rate }), "prebuilt_rps")
	b.ReportMetric(median(runs, func(r BaselineRun) float64 { return r.Realistic.Rate }), "realistic_rps")
	b.ReportMetric(median(runs, func(r BaselineRun) float64 { return r.Ratio }), "ratio")
	b.ReportMetric(median(runs, func(r BaselineRun) float64 { return r.PrebuiltRatio }), "prebuilt_ratio")
}
