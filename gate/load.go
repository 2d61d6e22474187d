package gate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/loadgen/load"
	"github.com/shakedown-dev/shakedown/loadgen/pace"
	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/stats"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
	"github.com/shakedown-dev/shakedown/result"
)

// Names of the load stage's measurements, which a baseline is compared on.
const (
	measureP95        = "intended p(95)"
	measureThroughput = "throughput"
	measureTargetRate = "target rate"
	measureDuration   = "duration"
	// sampleIntended names the load check's sample of intended latencies (ms).
	sampleIntended = "intended latency ms"
)

// load drives realistic traffic (every event unique, the default mix) at the
// gate file's rate and holds it to its thresholds, one check each, and, with
// a baseline, to the baseline's p95 and throughput within the margin.
func (r *runner) load(ctx context.Context) bool {
	st := r.cfg.Stages.Load
	d := time.Duration(st.Duration)
	rules, err := threshold.ParseAll(st.Thresholds) // checked by withDefaults
	if err != nil {
		r.check(StageLoad, "load", "thresholds", func() result.Check { return result.Check{Status: result.Error, Summary: err.Error()} })
		return false
	}
	r.step(StageLoad, fmt.Sprintf("%g requests/s for %s", st.Rate, d))
	var recorded *record.Recorder
	c := r.check(StageLoad, "load", fmt.Sprintf("%g/s for %s", st.Rate, d), func() result.Check {
		rec, latencies, err := r.attack(ctx, st.Rate, d)
		recorded = rec
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		var samples map[string][]float64
		if len(latencies) > 0 {
			samples = map[string][]float64{sampleIntended: latencies}
		}
		s := rec.Summary()
		ms := []result.Measurement{
			{Name: "requests", Value: float64(s.Requests), Pass: true},
			{Name: measureTargetRate, Value: st.Rate, Unit: "/s", Pass: true},
			{Name: measureDuration, Value: d.Seconds(), Unit: "s", Pass: true},
			{Name: "rate", Value: s.Rate, Unit: "/s", Pass: true},
			{Name: measureThroughput, Value: s.Throughput, Unit: "/s", Pass: true},
			{Name: "errors", Value: 100 * s.ErrorRate, Unit: "%", Pass: true},
			{Name: "intended p(50)", Value: millis(s.Intended.P50), Unit: "ms", Pass: true},
			{Name: measureP95, Value: millis(s.Intended.P95), Unit: "ms", Pass: true},
			{Name: "intended p(99)", Value: millis(s.Intended.P99), Unit: "ms", Pass: true},
		}
		var evidence []string
		for _, e := range s.TopErrors {
			evidence = append(evidence, fmt.Sprintf("%d× %s", e.Count, e.Error))
		}
		if s.Requests == 0 || s.Success == 0 {
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("%d requests sent, none answered 2xx", s.Requests), Measurements: ms, Evidence: evidence, Samples: samples}
		}
		return result.Check{Status: result.Pass, Measurements: ms, Evidence: evidence, Samples: samples,
			Summary: fmt.Sprintf("%d requests, p(95) %s, %.2f%% errors", s.Requests, s.Intended.P95.Round(time.Microsecond*10), 100*s.ErrorRate)}
	})
	if recorded == nil || c.Status == result.Error {
		return false
	}
	ok := c.Status == result.Pass
	for _, rule := range rules {
		res := rule.Check(recorded)
		ck := r.check(StageLoad, "load", "threshold "+res.Rule, func() result.Check {
			status, summary := result.Pass, fmt.Sprintf("%s, want %s %s", res.Actual, res.Threshold.Op, res.Want)
			if !res.Pass {
				status = result.Fail
			}
			if res.Note != "" {
				summary = res.Note
			}
			return result.Check{Status: status, Summary: summary}
		})
		ok = ok && ck.Status == result.Pass
	}
	if r.opts.Baseline != nil {
		ck := r.check(StageLoad, "load", "no regression against the baseline", func() result.Check { return r.compareBaseline(c) })
		ok = ok && ck.Status == result.Pass
	}
	return ok
}

// attack runs one load attack as `shakedown load` does (load.Run: requests
// built before the attack, intended-time latency from the schedule) and
// keeps a uniform sample of at most maxSamples intended latencies in
// milliseconds.
func (r *runner) attack(ctx context.Context, rate float64, d time.Duration) (*record.Recorder, []float64, error) {
	samples := newReservoir(maxSamples, r.opts.Seed)
	res, err := load.Run(ctx, load.Options{Target: r.t.CaptureURL, Token: r.t.Token, Seed: r.opts.Seed,
		Pacer:   pace.Spec{Kind: "constant", Rate: rate, Duration: d},
		Observe: func(_ *vegeta.Result, intended time.Duration) { samples.add(millis(intended)) }})
	if res == nil {
		return nil, nil, err
	}
	rec := res.Recorder
	if err != nil {
		return rec, nil, fmt.Errorf("load attack: %w", err)
	}
	if res.Stopped != "" {
		return rec, nil, fmt.Errorf("load attack %s: its measurements are partial", res.Stopped)
	}
	return rec, samples.values, nil
}

// maxSamples bounds the intended latencies a load check keeps for a later
// baseline comparison.
const maxSamples = 5000

// reservoir keeps a uniform sample of at most n values (Vitter's algorithm R).
type reservoir struct {
	values []float64
	n      int
	seen   uint64
	rng    *rand.Rand
}

func newReservoir(n int, seed uint64) *reservoir {
	return &reservoir{n: n, rng: rand.New(rand.NewPCG(seed, 0x5a3b1e))}
}

func (r *reservoir) add(v float64) {
	r.seen++
	if len(r.values) < r.n {
		r.values = append(r.values, v)
		return
	}
	if j := r.rng.Uint64N(r.seen); j < uint64(r.n) {
		r.values[j] = v
	}
}

// compareBaseline holds this run's p95 latency and throughput to the
// baseline's. Latency: the 95% bootstrap interval of the p95 difference (this
// run's intended latencies against the baseline's, resampled independently)
// must not lie wholly above both the margin and the latency floor, so noise
// is not a regression and a small real change within the margin is not
// either. Throughput: within the margin of the baseline's.
func (r *runner) compareBaseline(now result.Check) result.Check {
	st := r.cfg.Stages.Load
	margin, _ := threshold.ParseShare(st.Margin)
	var before *result.Check
	for i := range r.opts.Baseline.Checks {
		c := &r.opts.Baseline.Checks[i]
		if c.Stage == StageLoad && len(c.Samples[sampleIntended]) > 0 {
			before = c
			break
		}
	}
	if before == nil {
		return result.Check{Status: result.Error, Summary: "the baseline result has no load latencies: pass the JSON result of a gate whose load stage ran"}
	}
	if len(now.Samples[sampleIntended]) == 0 {
		return result.Check{Status: result.Error, Summary: "this run's load stage recorded no latencies to compare"}
	}
	if before.Status != result.Pass {
		return result.Check{Status: result.Error, Summary: fmt.Sprintf("the baseline's load check did not pass (%s: %s): compare with a run that did", before.Status, before.Summary)}
	}
	// Latency and throughput depend on the load: only runs at the same rate
	// and length compare.
	for _, name := range []string{measureTargetRate, measureDuration, measureThroughput} {
		a, okA := now.Measurement(name)
		b, okB := before.Measurement(name)
		if !okA || !okB {
			return result.Check{Status: result.Error, Summary: fmt.Sprintf("the baseline's load check has no %q measurement: pass the JSON result of a gate of this version", name)}
		}
		if name != measureThroughput && a.Value != b.Value {
			return result.Check{Status: result.Error, Summary: fmt.Sprintf("the baseline ran with %s %s, this run with %s: set the gate file's load stage as the baseline's to compare", name, result.Number(b.Value)+b.Unit, result.Number(a.Value)+a.Unit)}
		}
	}
	cmp, err := stats.Bootstrap{Seed: r.opts.Seed}.Compare(stats.NewSample(now.Samples[sampleIntended]), stats.NewSample(before.Samples[sampleIntended]), 0.95)
	if err != nil {
		return result.Check{Status: result.Error, Summary: err.Error()}
	}
	allowed := max(margin*cmp.B.Value, millis(time.Duration(st.LatencyFloor)))
	latencyOK := cmp.Diff.CI.Lo <= allowed
	tput, _ := now.Measurement(measureThroughput)
	btput, _ := before.Measurement(measureThroughput)
	tputOK := tput.Value >= btput.Value*(1-margin)
	ms := []result.Measurement{
		{Name: "p(95) increase", Value: cmp.Diff.Value, Unit: "ms",
			Limit: fmt.Sprintf("interval [%s, %s]ms not wholly above %sms (%s of the baseline's %sms, at least %s)",
				result.Number(cmp.Diff.CI.Lo), result.Number(cmp.Diff.CI.Hi), result.Number(allowed), st.Margin, result.Number(cmp.B.Value), time.Duration(st.LatencyFloor)),
			Pass: latencyOK},
		{Name: measureP95, Value: cmp.A.Value, Unit: "ms", Pass: true},
		{Name: "baseline " + measureP95, Value: cmp.B.Value, Unit: "ms", Pass: true},
		{Name: measureThroughput, Value: tput.Value, Unit: "/s", Limit: fmt.Sprintf(">= %s/s (baseline %s/s - %s)", result.Number(btput.Value*(1-margin)), result.Number(btput.Value), st.Margin),
			Pass: tputOK},
	}
	switch {
	case !latencyOK:
		return result.Check{Status: result.Fail, Measurements: ms,
			Summary: fmt.Sprintf("p(95) regressed: %sms against the baseline's %sms, +%sms (95%% interval %s to %sms), beyond the %sms allowed",
				result.Number(cmp.A.Value), result.Number(cmp.B.Value), result.Number(cmp.Diff.Value), result.Number(cmp.Diff.CI.Lo), result.Number(cmp.Diff.CI.Hi), result.Number(allowed))}
	case !tputOK:
		return result.Check{Status: result.Fail, Measurements: ms,
			Summary: fmt.Sprintf("throughput regressed: %s/s against the baseline's %s/s, beyond the %s margin", result.Number(tput.Value), result.Number(btput.Value), st.Margin)}
	}
	return result.Check{Status: result.Pass, Measurements: ms,
		Summary: fmt.Sprintf("p(95) %sms against the baseline's %sms (difference %s to %sms at 95%%), throughput within %s",
			result.Number(cmp.A.Value), result.Number(cmp.B.Value), result.Number(cmp.Diff.CI.Lo), result.Number(cmp.Diff.CI.Hi), st.Margin)}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
