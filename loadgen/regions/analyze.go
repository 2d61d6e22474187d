package regions

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/stats"
)

// DefaultQuantiles returns the quantiles Analyze reports unless told otherwise:
// p50, p90, p95 and p99.
func DefaultQuantiles() []float64 { return []float64{0.5, 0.9, 0.95, 0.99} }

// AnalyzeOptions configures Analyze. The zero value is a working default.
type AnalyzeOptions struct {
	// Quantiles to report and compare (default DefaultQuantiles()); the quantiles
	// Thresholds refer to are added.
	Quantiles []float64
	// Level is the confidence level of every interval, in (0, 1) (0 means 0.95).
	Level float64
	// Resamples per bootstrap (0 means stats.DefaultResamples; else at least
	// stats.MinResamples).
	Resamples int
	// Seed makes the bootstrap reproducible; the same Result, options and seed give
	// the same report.
	Seed uint64
	// Metric is the latency compared: record.Latency (default; from the actual send)
	// or record.Intended (from the intended send time, coordinated-omission corrected).
	Metric record.Metric
	// MaxErrors is the share of failed requests (0..1) a target may have before the
	// report fails. Nil means a target fails only when every one of its requests
	// failed.
	MaxErrors *float64
	// Thresholds are checked on the point estimates of Metric (see ParseThresholds);
	// a failed one fails the report.
	Thresholds []Threshold
	// Residency, when not nil, is CheckResidency of the same Result: it is reported,
	// and a violation fails the report.
	Residency *Residency
}

// Validate checks the options without analysing anything, so that a command can
// refuse a bad flag before it sends a request; Analyze calls it too. Errors wrap
// ErrInvalidOptions.
func (o AnalyzeOptions) Validate() error {
	_, err := o.normalized()
	return err
}

func (o AnalyzeOptions) normalized() (AnalyzeOptions, error) {
	qs := slices.Clone(o.Quantiles)
	if len(qs) == 0 {
		qs = DefaultQuantiles()
	}
	for _, q := range qs {
		if !(q >= 0 && q <= 1) {
			return o, invalid("quantile %v: want a value in [0, 1], e.g. 0.99 for p99", q)
		}
	}
	for _, t := range o.Thresholds {
		for _, q := range t.quantiles() {
			if !slices.ContainsFunc(qs, func(x float64) bool { return sameQ(x, q) }) {
				qs = append(qs, q)
			}
		}
	}
	slices.Sort(qs)
	o.Quantiles = qs
	if o.Level == 0 {
		o.Level = 0.95
	}
	if !(o.Level > 0 && o.Level < 1) {
		return o, invalid("confidence level %v: want a value strictly between 0 and 1, e.g. 0.95", o.Level)
	}
	if o.Resamples == 0 {
		o.Resamples = stats.DefaultResamples
	}
	if o.Resamples < stats.MinResamples {
		return o, invalid("%d bootstrap resamples: use at least %d (fewer make the interval ends too noisy)", o.Resamples, stats.MinResamples)
	}
	if o.Metric == "" {
		o.Metric = record.Latency
	}
	if o.Metric != record.Latency && o.Metric != record.Intended {
		return o, invalid("metric %q: use %q (from the actual send) or %q (from the scheduled send)", o.Metric, record.Latency, record.Intended)
	}
	if o.MaxErrors != nil && !(*o.MaxErrors >= 0 && *o.MaxErrors <= 1) {
		return o, invalid("error share %v: want a share within 0..1 (0%%..100%%)", *o.MaxErrors)
	}
	return o, nil
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
	// Series is each target's latency over the run, round by round (in buckets).
	Series []TargetSeries `json:"series,omitempty"`

	// ErrorChecks is the error rule (AnalyzeOptions.MaxErrors) checked per target.
	ErrorChecks []ErrorCheck `json:"error_checks"`
	// Thresholds are AnalyzeOptions.Thresholds checked.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	// Residency is AnalyzeOptions.Residency.
	Residency *Residency `json:"residency,omitempty"`
	// Passed is false when an error check, a threshold or the residency check failed
	// (Failures says which); an interrupted run can pass on what it measured.
	Passed bool `json:"passed"`

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

// The bootstrap methods of a PairComparison.
const (
	// Paired resamples rounds, the same rounds for both targets.
	Paired = "paired"
	// Independent resamples each target's samples on their own.
	Independent = "independent"
)

// PairComparison compares targets A and B at one quantile.
type PairComparison struct {
	A string `json:"a_name"`
	B string `json:"b_name"`
	// Comparison comes from the paired bootstrap (Method Paired) when the Result
	// says which round each sample came from, else from the independent one.
	Comparison
	Method string `json:"method"`
	// Independent is the independent bootstrap of the same quantile, beside a
	// paired Comparison.
	Independent *Comparison `json:"independent,omitempty"`
	// Disagree is true when the paired and the independent bootstrap differ on
	// whether the difference is significant.
	Disagree bool   `json:"disagree,omitempty"`
	Verdict  string `json:"verdict"`
}

// ErrorCheck is the error rule checked on one target.
type ErrorCheck struct {
	Target   string  `json:"target"`
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	Rate     float64 `json:"rate"`
	// Max is the share of errors allowed; nil when only a target whose every
	// request failed fails.
	Max  *float64 `json:"max,omitempty"`
	Pass bool     `json:"pass"`
	// TopError is the most frequent error and TopErrorCount how often it occurred.
	TopError      string `json:"top_error,omitempty"`
	TopErrorCount uint64 `json:"top_error_count,omitempty"`
}

// String states the check, e.g. "us: 50 of 50 requests failed (100%; allowed: not
// all); most frequent: 50× connection refused".
func (c ErrorCheck) String() string {
	allowed := "not all"
	if c.Max != nil {
		allowed = "at most " + pctText(*c.Max)
	}
	s := fmt.Sprintf("%s: %d of %d requests failed (%s; allowed: %s)", c.Target, c.Errors, c.Requests, pctText(c.Rate), allowed)
	if c.TopError != "" {
		s += fmt.Sprintf("; most frequent: %d× %s", c.TopErrorCount, c.TopError)
	}
	return s
}

func pctText(f float64) string { return strconv.FormatFloat(math.Round(f*1e4)/1e2, 'f', -1, 64) + "%" }

// Failures lists what failed the report, one line each: error checks, thresholds and
// residency violations. It is empty when the report passed.
func (r Report) Failures() []string {
	var out []string
	for _, c := range r.ErrorChecks {
		if !c.Pass {
			out = append(out, "errors: "+c.String())
		}
	}
	for _, t := range r.Thresholds {
		if !t.Pass {
			s := "threshold " + t.Rule + " failed"
			if t.Actual != "" {
				s += ": " + t.Actual
			}
			if t.Actual == "" && t.Note != "" {
				s += ": " + t.Note
			}
			out = append(out, s)
		}
	}
	if r.Residency != nil {
		for _, v := range r.Residency.Violations() {
			out = append(out, "residency: "+v)
		}
	}
	return out
}

func (r Report) target(name string) (TargetReport, bool) {
	for _, t := range r.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return TargetReport{}, false
}

// Analyze computes per-target percentiles with bootstrap intervals, compares every
// pair of targets (in Options order) at every quantile, and checks the error rule,
// the thresholds and the residency check. Errors wrap ErrInvalidOptions when opts
// (or a threshold's target) are wrong.
func Analyze(res Result, opts AnalyzeOptions) (Report, error) {
	opts, err := opts.normalized()
	if err != nil {
		return Report{}, err
	}
	names := make([]string, len(res.Targets))
	for i, t := range res.Targets {
		names[i] = t.Target.Name
	}
	for _, t := range opts.Thresholds {
		for _, o := range []operand{t.Left, t.Right} {
			if o.isRef() && !slices.Contains(names, o.Target) {
				return Report{}, invalid("threshold %q: unknown target %q; the targets are %s", t.Source, o.Target, strings.Join(names, ", "))
			}
		}
	}
	rep := Report{
		Metric: opts.Metric, Level: opts.Level, Resamples: opts.Resamples, Seed: opts.Seed, Quantiles: opts.Quantiles,
		Rate: res.Rate, Rounds: res.Rounds, Sent: res.Sent, Warmup: res.Warmup,
		Start: res.Start, Elapsed: res.End.Sub(res.Start), Interrupted: res.Interrupted,
		Residency: opts.Residency,
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
		rep.ErrorChecks = append(rep.ErrorChecks, errorCheck(tr, opts.MaxErrors))
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
			if tail := stats.TailCount(sample.Len(), q); q > 0.5 && tail < minTail {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s %s rests on the %d slowest of %d requests: its interval is unreliable (run at least %d requests for it)",
					tr.Name, QuantileName(q), tail, sample.Len(), stats.MinSizeForTail(q, minTail)))
			}
		}
		tr.Mean = fromMillis(mean(sample.Sorted()))
		tr.Curve = curve(sample)
		rep.Targets = append(rep.Targets, tr)
		if s, ok := series(t.Target.Name, samples[i], t.Rounds, res); ok {
			rep.Series = append(rep.Series, s)
		}
	}
	disagreements := 0
	for i := range res.Targets {
		for j := i + 1; j < len(res.Targets); j++ {
			if len(samples[i]) == 0 || len(samples[j]) == 0 {
				continue
			}
			a, b := res.Targets[i].Target.Name, res.Targets[j].Target.Name
			var paired []stats.TwoSample
			if p, ok := pairByRound(samples[i], res.Targets[i].Rounds, samples[j], res.Targets[j].Rounds); ok {
				boot := stats.Bootstrap{Resamples: opts.Resamples, Level: opts.Level, Seed: mix(opts.Seed, uint64(i), uint64(j), 0xbeef)}
				if paired, err = boot.ComparePaired(p, opts.Quantiles...); err != nil {
					return Report{}, fmt.Errorf("regions: compare %s and %s round by round: %w", a, b, err)
				}
			}
			for k, q := range opts.Quantiles {
				ind, err := Compare(samples[i], samples[j], q, opts.Level, opts.Resamples, mix(opts.Seed, uint64(i), uint64(j), uint64(k)))
				if err != nil {
					return Report{}, fmt.Errorf("regions: compare %s and %s at %s: %w", a, b, QuantileName(q), err)
				}
				pc := PairComparison{A: a, B: b, Comparison: ind, Method: Independent}
				if paired != nil {
					pc.Comparison, pc.Method = comparisonFrom(paired[k]), Paired
					pc.Independent = &ind
					pc.Disagree = ind.Significant != pc.Significant
				}
				pc.Verdict = pc.Comparison.Verdict(a, b)
				if pc.Disagree {
					disagreements++
					pc.Verdict += "; " + independentClause(ind)
				}
				rep.Comparisons = append(rep.Comparisons, pc)
			}
		}
	}
	if len(rep.Comparisons) > 0 && rep.Comparisons[0].Method == Paired {
		rep.Notes = append(rep.Notes, "comparisons resample whole rounds, the same rounds for every target (paired bootstrap), so drift that hits all targets alike cancels; the independent bootstrap's intervals are shown beside them"+
			map[bool]string{true: fmt.Sprintf(", and %d verdict(s) say where it judges significance differently", disagreements), false: ""}[disagreements > 0])
	}
	if len(rep.Comparisons) > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d comparisons at %g%% each: expect about %.1f false 'significant' verdicts by chance alone",
			len(rep.Comparisons), opts.Level*100, float64(len(rep.Comparisons))*(1-opts.Level)))
	}
	if res.Interrupted {
		rep.Notes = append(rep.Notes, fmt.Sprintf("interrupted after %d of %d rounds: partial results", res.Sent, res.Rounds))
	}
	for _, t := range opts.Thresholds {
		rep.Thresholds = append(rep.Thresholds, t.check(&rep))
	}
	rep.Passed = len(rep.Failures()) == 0
	return rep, nil
}

func errorCheck(t TargetReport, max *float64) ErrorCheck {
	c := ErrorCheck{Target: t.Name, Requests: t.Requests, Errors: t.Errors, Rate: t.ErrorRate, Max: max, Pass: true}
	if len(t.TopErrors) > 0 {
		c.TopError, c.TopErrorCount = t.TopErrors[0].Error, t.TopErrors[0].Count
	}
	if c.Requests > 0 {
		c.Rate = float64(c.Errors) / float64(c.Requests)
		if max == nil {
			c.Pass = c.Errors < c.Requests
		} else {
			c.Pass = c.Rate <= *max
		}
	}
	return c
}

// pairByRound lines up two targets' samples by round: one block per round where
// either answered, NaN where one did not. ok is false when the samples do not carry
// their rounds.
func pairByRound(a Samples, ra []int, b Samples, rb []int) (stats.Paired, bool) {
	if len(ra) != len(a) || len(rb) != len(b) || len(a) == 0 || len(b) == 0 {
		return stats.Paired{}, false
	}
	block := map[int]int{}
	var va, vb []float64
	add := func(round int) int {
		i, ok := block[round]
		if !ok {
			i = len(va)
			block[round] = i
			va, vb = append(va, math.NaN()), append(vb, math.NaN())
		}
		return i
	}
	for i, r := range ra {
		k := add(r)
		va[k] = millis(a[i])
	}
	for i, r := range rb {
		k := add(r)
		vb[k] = millis(b[i])
	}
	p, err := stats.NewPaired(va, vb)
	return p, err == nil
}

// Comparison returns the comparison of targets a and b at quantile q, if any.
func (r Report) Comparison(a, b string, q float64) (PairComparison, bool) {
	for _, c := range r.Comparisons {
		if sameQ(c.Q, q) && ((c.A == a && c.B == b) || (c.A == b && c.B == a)) {
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
