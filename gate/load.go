package gate

import (
	"context"
	"fmt"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen"
	"github.com/shakedown-dev/shakedown/loadgen/pace"
	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
	"github.com/shakedown-dev/shakedown/result"
)

// Names of the load stage's measurements, which a baseline is compared on.
const (
	measureP95        = "intended p(95)"
	measureThroughput = "throughput"
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
	var rec *record.Recorder
	c := r.check(StageLoad, "load", fmt.Sprintf("%g/s for %s", st.Rate, d), func() result.Check {
		var err error
		rec, err = r.attack(ctx, st.Rate, d)
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		s := rec.Summary()
		ms := []result.Measurement{
			{Name: "requests", Value: float64(s.Requests), Pass: true},
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
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("%d requests sent, none answered 2xx", s.Requests), Measurements: ms, Evidence: evidence}
		}
		return result.Check{Status: result.Pass, Measurements: ms, Evidence: evidence,
			Summary: fmt.Sprintf("%d requests, p(95) %s, %.2f%% errors", s.Requests, s.Intended.P95.Round(time.Microsecond*10), 100*s.ErrorRate)}
	})
	if rec == nil {
		return false
	}
	ok := c.Status == result.Pass
	for _, rule := range rules {
		res := rule.Check(rec)
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

// attack runs one load attack as `shakedown load` does: requests built
// before the attack (up to loadgen.DefaultPrebuildMemory), intended-time
// latency from the schedule.
func (r *runner) attack(ctx context.Context, rate float64, d time.Duration) (*record.Recorder, error) {
	pacer, err := pace.New(pace.Spec{Kind: "constant", Rate: rate, Duration: d})
	if err != nil {
		return nil, err
	}
	gen, err := traffic.New(traffic.Options{BaseURL: r.t.CaptureURL, Token: r.t.Token, Seed: r.opts.Seed, Epoch: time.Now()})
	if err != nil {
		return nil, err
	}
	n := record.NewSchedule(pacer).Count(d)
	if _, err := gen.Prebuild(ctx, int(n), loadgen.DefaultPrebuildMemory, nil); err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the generator's builders
	rec := record.New(record.Options{Start: time.Now(), Schedule: record.NewSchedule(pacer),
		Classify: func(method, url string) (string, string) {
			k, e := traffic.Classify(method, url)
			return string(k), string(e)
		}})
	rec, err = loadgen.Run(actx, loadgen.Attack{Name: "shakedown-gate", Targeter: gen.Targeter(actx, nil), Pacer: pacer, Duration: d, Recorder: rec})
	if err != nil {
		return rec, fmt.Errorf("load attack: %w", err)
	}
	return rec, nil
}

// compareBaseline holds this run's p95 and throughput to the baseline's,
// within the gate file's margin.
func (r *runner) compareBaseline(now result.Check) result.Check {
	margin, _ := threshold.ParseShare(r.cfg.Stages.Load.Margin)
	var before *result.Check
	for i := range r.opts.Baseline.Checks {
		c := &r.opts.Baseline.Checks[i]
		if c.Stage == StageLoad {
			if _, ok := c.Measurement(measureP95); ok {
				before = c
				break
			}
		}
	}
	if before == nil {
		return result.Check{Status: result.Error, Summary: "the baseline result has no load measurements: pass a gate result whose load stage ran"}
	}
	p95, _ := now.Measurement(measureP95)
	tput, _ := now.Measurement(measureThroughput)
	bp95, _ := before.Measurement(measureP95)
	btput, _ := before.Measurement(measureThroughput)
	ms := []result.Measurement{
		{Name: measureP95, Value: p95.Value, Unit: "ms", Limit: fmt.Sprintf("<= %.3gms (baseline %.3gms + %s)", bp95.Value*(1+margin), bp95.Value, r.cfg.Stages.Load.Margin),
			Pass: p95.Value <= bp95.Value*(1+margin)},
		{Name: measureThroughput, Value: tput.Value, Unit: "/s", Limit: fmt.Sprintf(">= %.4g/s (baseline %.4g/s - %s)", btput.Value*(1-margin), btput.Value, r.cfg.Stages.Load.Margin),
			Pass: tput.Value >= btput.Value*(1-margin)},
	}
	for _, m := range ms {
		if !m.Pass {
			return result.Check{Status: result.Fail, Measurements: ms, Summary: fmt.Sprintf("%s regressed beyond the %s margin: %s", m.Name, r.cfg.Stages.Load.Margin, m)}
		}
	}
	return result.Check{Status: result.Pass, Measurements: ms, Summary: fmt.Sprintf("p(95) and throughput within %s of the baseline", r.cfg.Stages.Load.Margin)}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
