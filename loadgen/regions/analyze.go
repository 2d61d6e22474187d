package regions

import (
	"fmt"
	"math"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/stats"
)

// DefaultQuantiles returns the quantiles Analyze reports unless told otherwise:
// p50, p90, p95 and p99.
func DefaultQuantiles() []float64 { return []float64{0.5, 0.9, 0.95, 0.99} }

// AnalyzeOptions configures Analyze. The zero value is a working default.
type AnalyzeOptions struct {
	// Quantiles to report and compare (default DefaultQuantiles()).
	Quantiles []float64
	// Level is the confidence level of every interval (default 0.95).
	Level float64
	// Resamples per bootstrap (default stats.DefaultResamples, at least stats.MinResamples).
	Resamples int
	// Seed makes the bootstrap reproducible; the same Result, options and seed give
	// the same report.
	Seed uint64
	// Metric is the latency compared: record.Latency (default; from the actual send)
	// or record.Intended (from the intended send time, coordinated-omission corrected).
	Metric record.Metric
}

// minTail is how many observations must lie above a high quantile for its percentile
// bootstrap interval to be trusted; below it the interval hugs the few largest values.
const minTail = 5

// Report is the analysis of a Result: what the encoders render.
type Report struct {
	Metric    record.Metric `json:"metric"`
	Level     float64       `json:"level"`
	Resamples int           `json:"resamples"`
	Seed      uint64        `json:"seed"`
	Quantiles []float64     `json:"quantiles"`

	Rate        float64       `json:"rate"`
	Rounds      int           `json:"rounds"`
	Sent        int           `json:"sent"`
	Warmup      int           `json:"warmup"`
	Start       time.Time     `json:"start"`
	Elapsed     time.Duration `json:"elapsed"`
	Interrupted bool          `json:"interrupted"`

	Targets     []TargetReport   `json:"targets"`
	Comparisons []PairComparison `json:"comparisons"`
	// Notes explain what could not be computed (e.g. a target with no successes).
	Notes []string `json:"notes,omitempty"`
}

// TargetReport is one target's latencies.
type TargetReport struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Samples is how many successful requests the percentiles come from.
	Samples int `json:"samples"`
	// Requests, Errors and ErrorRate count every recorded request.
	Requests  uint64              `json:"requests"`
	Errors    uint64              `json:"errors"`
	ErrorRate float64             `json:"error_rate"`
	Codes     map[uint16]uint64   `json:"codes"`
	TopErrors []record.ErrorCount `json:"top_errors,omitempty"`
	// Quantiles holds one estimate per AnalyzeOptions.Quantiles entry.
	Quantiles []QuantileEstimate `json:"quantiles"`
	Mean      time.Duration      `json:"mean"`
	// Curve is the percentile curve (latency by quantile) the plots draw.
	Curve []CurvePoint `json:"curve"`
}

// QuantileEstimate is a quantile with its bootstrap interval.
type QuantileEstimate struct {
	Q float64 `json:"q"`
	Estimate
}

// CurvePoint is one point of a percentile curve.
type CurvePoint struct {
	Q       float64       `json:"q"`
	Latency time.Duration `json:"latency"`
}

// PairComparison compares targets A and B at one quantile.
type PairComparison struct {
	A string `json:"a_name"`
	B string `json:"b_name"`
	Comparison
	Verdict string `json:"verdict"`
}

// Analyze computes per-target percentiles with bootstrap intervals and compares every
// pair of targets (in Options order) at every quantile.
func Analyze(res Result, opts AnalyzeOptions) (Report, error) {
	if len(opts.Quantiles) == 0 {
		opts.Quantiles = DefaultQuantiles()
	}
	for _, q := range opts.Quantiles {
		if !(q >= 0 && q <= 1) {
			return Report{}, fmt.Errorf("regions: quantile %v: want a value in [0, 1], e.g. 0.99 for p99", q)
		}
	}
	if opts.Level == 0 {
		opts.Level = 0.95
	}
	if opts.Resamples == 0 {
		opts.Resamples = stats.DefaultResamples
	}
	if opts.Metric == "" {
		opts.Metric = record.Latency
	}
	if opts.Metric != record.Latency && opts.Metric != record.Intended {
		return Report{}, fmt.Errorf("regions: metric %q: use %q or %q", opts.Metric, record.Latency, record.Intended)
	}
	rep := Report{
		Metric: opts.Metric, Level: opts.Level, Resamples: opts.Resamples, Seed: opts.Seed, Quantiles: opts.Quantiles,
		Rate: res.Rate, Rounds: res.Rounds, Sent: res.Sent, Warmup: res.Warmup,
		Start: res.Start, Elapsed: res.End.Sub(res.Start), Interrupted: res.Interrupted,
	}
	samples := make([]Samples, len(res.Targets))
	for i, t := range res.Targets {
		samples[i] = t.Latency
		if opts.Metric == record.Intended {
			samples[i] = t.Intended
		}
		tr := TargetReport{
			Name: t.Target.Name, URL: t.Target.URL, Samples: len(samples[i]),
			Requests: t.Summary.Requests, Errors: t.Summary.Errors, ErrorRate: t.Summary.ErrorRate,
			Codes: t.Summary.Codes, TopErrors: t.Summary.TopErrors,
		}
		if len(samples[i]) == 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: no successful requests, so no percentiles (check its URL, token and top errors)", tr.Name))
			rep.Targets = append(rep.Targets, tr)
			continue
		}
		sample := stats.NewSample(samples[i].Millis())
		for k, q := range opts.Quantiles {
			est, err := stats.Bootstrap{Resamples: opts.Resamples, Level: opts.Level, Seed: mix(opts.Seed, uint64(i), 0xffff, uint64(k))}.Quantile(sample, q)
			if err != nil {
				return Report{}, fmt.Errorf("regions: %s %s: %w", tr.Name, QuantileName(q), err)
			}
			tr.Quantiles = append(tr.Quantiles, QuantileEstimate{Q: q, Estimate: durationEstimate(est)})
		}
		for _, q := range opts.Quantiles {
			if tail := float64(sample.Len()) * (1 - q); q > 0.5 && tail < minTail {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s %s rests on the %.0f slowest of %d requests: its interval is unreliable (run at least %.0f requests for it)",
					tr.Name, QuantileName(q), math.Floor(tail), sample.Len(), math.Ceil(minTail/(1-q))))
			}
		}
		tr.Mean = fromMillis(mean(sample.Sorted()))
		tr.Curve = curve(sample)
		rep.Targets = append(rep.Targets, tr)
	}
	for i := range res.Targets {
		for j := i + 1; j < len(res.Targets); j++ {
			if len(samples[i]) == 0 || len(samples[j]) == 0 {
				continue
			}
			a, b := res.Targets[i].Target.Name, res.Targets[j].Target.Name
			for k, q := range opts.Quantiles {
				c, err := Compare(samples[i], samples[j], q, opts.Level, opts.Resamples, mix(opts.Seed, uint64(i), uint64(j), uint64(k)))
				if err != nil {
					return Report{}, fmt.Errorf("regions: compare %s and %s at %s: %w", a, b, QuantileName(q), err)
				}
				rep.Comparisons = append(rep.Comparisons, PairComparison{A: a, B: b, Comparison: c, Verdict: c.Verdict(a, b)})
			}
		}
	}
	if len(rep.Comparisons) > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d comparisons at %g%% each: expect about %.1f false 'significant' verdicts by chance alone",
			len(rep.Comparisons), opts.Level*100, float64(len(rep.Comparisons))*(1-opts.Level)))
	}
	if res.Interrupted {
		rep.Notes = append(rep.Notes, fmt.Sprintf("interrupted after %d of %d rounds: partial results", res.Sent, res.Rounds))
	}
	return rep, nil
}

// Comparison returns the comparison of targets a and b at quantile q, if any.
func (r Report) Comparison(a, b string, q float64) (PairComparison, bool) {
	for _, c := range r.Comparisons {
		if c.Q == q && ((c.A == a && c.B == b) || (c.A == b && c.B == a)) {
			return c, true
		}
	}
	return PairComparison{}, false
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// curve samples the percentile curve on the log scale of 1/(1−q) that HDR plots use,
// where p90, p99 and p99.9 are evenly spaced, up to the largest quantile the sample
// size supports, and ends at the maximum.
func curve(s stats.Sample) []CurvePoint {
	maxT := math.Min(math.Log10(float64(s.Len())), 5)
	var pts []CurvePoint
	for t := 0.0; t <= maxT+1e-9; t += 0.05 {
		q := 1 - math.Pow(10, -t)
		pts = append(pts, CurvePoint{Q: q, Latency: fromMillis(s.Quantile(q))})
	}
	return append(pts, CurvePoint{Q: 1, Latency: fromMillis(s.Quantile(1))})
}

// mix derives independent, reproducible seeds for each bootstrap (splitmix64).
func mix(seed uint64, parts ...uint64) uint64 {
	z := seed
	for _, p := range parts {
		z += 0x9e3779b97f4a7c15 + p
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
	}
	return z
}
