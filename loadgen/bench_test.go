package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

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
