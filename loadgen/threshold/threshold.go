// Package threshold parses and checks k6-like pass/fail rules on a load attack's
// results: "p(95)<300ms", "p(99)<=1s", "errors<1%", "rate>=0.98*target",
// "e2e_p(95)<2s".
//
// Metrics:
//
//	p(N), med, avg, max               latency from the intended send time (coordinated omission corrected)
//	raw_p(N), raw_med, raw_avg, raw_max   vegeta's latency from the actual send
//	e2e_p(N), e2e_med, e2e_avg, e2e_max   send until queryable in ClickHouse (sampled events)
//	errors                            share of failed requests (1% or 0.01)
//	late                              share of sends later than scheduled
//	e2e_lost                          share of sampled events never queryable
//	rate                              sent requests per second; compare with a number or F*target
//	throughput                        successful requests per second
//
// Operators: < <= > >= ==.
package threshold

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// Kind is what a threshold's metric measures.
type Kind int

// Kinds of metric.
const (
	// Duration metrics compare latencies.
	Duration Kind = iota
	// Ratio metrics compare shares (0..1), written as 1% or 0.01.
	Ratio
	// Rate metrics compare requests per second, as a number or F*target.
	Rate
)

// Threshold is one parsed rule.
type Threshold struct {
	// Source is the rule as written.
	Source string
	// Metric is the metric's name as written (e.g. "p(95)").
	Metric string
	// Op is the comparison.
	Op   string
	Kind Kind
	// Value is what the metric is compared with: a time.Duration for Duration
	// metrics, a share for Ratio, requests per second for Rate (or, with
	// OfTarget, a factor of the requested rate).
	Value    float64
	OfTarget bool

	dist       record.Metric // for Duration metrics
	percentile float64       // -1 avg, -2 max
	name       string        // for Ratio and Rate metrics
}

const (
	statAvg = -1
	statMax = -2
)

// Parse parses one rule.
func Parse(s string) (Threshold, error) {
	src := strings.TrimSpace(s)
	t := Threshold{Source: src}
	fail := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("threshold %q: %s", src, fmt.Sprintf(format, a...))
	}
	i := strings.IndexAny(src, "<>=")
	if i <= 0 {
		return fail("no comparison; write metric, operator, value, e.g. p(95)<300ms")
	}
	t.Metric = strings.TrimSpace(src[:i])
	rest := src[i:]
	for _, op := range []string{"<=", ">=", "==", "<", ">"} {
		if strings.HasPrefix(rest, op) {
			t.Op = op
			break
		}
	}
	if t.Op == "" {
		return fail("operator %q not understood; use <, <=, >, >= or ==", rest[:1])
	}
	value := strings.TrimSpace(rest[len(t.Op):])
	if value == "" {
		return fail("no value after %s", t.Op)
	}
	if err := t.parseMetric(); err != nil {
		return fail("%v", err)
	}
	switch t.Kind {
	case Duration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return fail("duration %q not understood; use e.g. 300ms", value)
		}
		t.Value = float64(d)
	case Ratio:
		v, err := ParseShare(value)
		if errors.Is(err, errShareRange) {
			return fail("share %q out of range: a percentage must be within 0%%..100%%, a fraction within 0..1", value)
		}
		if err != nil {
			return fail("share %q not understood; use e.g. 1%% or 0.01", value)
		}
		t.Value = v
	case Rate:
		if f, ok := strings.CutSuffix(value, "*target"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || v < 0 {
				return fail("factor %q not understood; use e.g. 0.98*target", f)
			}
			t.Value, t.OfTarget = v, true
			break
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(value, "/s"), 64)
		if err != nil || v < 0 {
			return fail("rate %q not understood; use requests per second (e.g. 500) or a share of the requested rate (e.g. 0.98*target)", value)
		}
		t.Value = v
	}
	return t, nil
}

// errShareRange is ParseShare's error for a number outside 0..1 (0%..100%).
var errShareRange = errors.New("share outside 0..1 (0%..100%)")

// ParseShare reads a share written as a percentage ("5%") or a fraction
// ("0.05"); outside 0..1 it fails.
func ParseShare(s string) (float64, error) {
	s = strings.TrimSpace(s)
	scale := 1.0
	if p, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(p), 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	v /= scale
	if !(v >= 0 && v <= 1) { // also NaN
		return 0, errShareRange
	}
	return v, nil
}

func (t *Threshold) parseMetric() error {
	m := t.Metric
	prefix, dist := "", record.Intended
	for _, p := range []struct {
		prefix string
		dist   record.Metric
	}{{"raw_", record.Latency}, {"e2e_", record.E2E}} {
		if rest, ok := strings.CutPrefix(m, p.prefix); ok {
			prefix, dist, m = p.prefix, p.dist, rest
			break
		}
	}
	t.Kind, t.dist = Duration, dist
	switch {
	case m == "med":
		t.percentile = 50
		return nil
	case m == "avg":
		t.percentile = statAvg
		return nil
	case m == "max":
		t.percentile = statMax
		return nil
	case strings.HasPrefix(m, "p(") && strings.HasSuffix(m, ")"):
		p, err := strconv.ParseFloat(m[2:len(m)-1], 64)
		if err != nil || p <= 0 || p > 100 {
			return fmt.Errorf("percentile %q not understood; use a number in (0, 100], e.g. p(99.9)", m[2:len(m)-1])
		}
		t.percentile = p
		return nil
	}
	switch prefix + m {
	case "errors", "late", "e2e_lost":
		t.Kind, t.name = Ratio, prefix+m
		return nil
	case "rate", "throughput":
		t.Kind, t.name = Rate, prefix+m
		return nil
	}
	return fmt.Errorf("metric %q not understood; use p(N), med, avg, max (optionally raw_ or e2e_), errors, late, e2e_lost, rate or throughput", t.Metric)
}

// ParseAll parses every rule, reporting every bad one.
func ParseAll(rules []string) ([]Threshold, error) {
	var out []Threshold
	var errs []string
	for _, r := range rules {
		t, err := Parse(r)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// Source is what thresholds are checked against; *record.Recorder is one.
type Source interface {
	Summary() record.Summary
	Percentile(m record.Metric, p float64) (time.Duration, bool)
}

// Result is a threshold checked.
type Result struct {
	Threshold Threshold `json:"-"`
	// Rule is the threshold as written.
	Rule string `json:"rule"`
	// Actual is the measured value, formatted.
	Actual string `json:"actual"`
	// Want is the limit the rule compared with (after resolving *target).
	Want string `json:"want"`
	Pass bool   `json:"pass"`
	// Note explains a failure that is not a comparison (e.g. no samples).
	Note string `json:"note,omitempty"`
}

// Check evaluates t against src.
func (t Threshold) Check(src Source) Result {
	res := Result{Threshold: t, Rule: t.Source}
	sum := src.Summary()
	var actual, want float64
	switch t.Kind {
	case Duration:
		var d time.Duration
		var ok bool
		dist := distOf(sum, t.dist)
		switch t.percentile {
		case statAvg:
			d, ok = dist.Mean, dist.Count > 0
		case statMax:
			d, ok = dist.Max, dist.Count > 0
		default:
			d, ok = src.Percentile(t.dist, t.percentile)
		}
		if !ok {
			res.Note = fmt.Sprintf("no %s samples", t.dist)
			res.Want = time.Duration(t.Value).String()
			return res
		}
		actual, want = float64(d), t.Value
		res.Actual, res.Want = d.String(), time.Duration(t.Value).String()
	case Ratio:
		var num, den uint64
		switch t.name {
		case "errors":
			num, den = sum.Errors, sum.Requests
		case "late":
			num, den = sum.Late, sum.Requests
		case "e2e_lost":
			num, den = sum.E2ELost, sum.E2E.Count+sum.E2ELost
		}
		if den == 0 {
			res.Note = "nothing measured"
			res.Want = pct(t.Value)
			return res
		}
		actual, want = float64(num)/float64(den), t.Value
		res.Actual, res.Want = fmt.Sprintf("%s (%d of %d)", pct(actual), num, den), pct(want)
	case Rate:
		actual = sum.Rate
		if t.name == "throughput" {
			actual = sum.Throughput
		}
		want = t.Value
		if t.OfTarget {
			want = t.Value * sum.RequestedRate
		}
		res.Actual, res.Want = fmt.Sprintf("%.1f/s", actual), fmt.Sprintf("%.1f/s", want)
		if t.OfTarget {
			res.Want += fmt.Sprintf(" (%g × %.1f/s)", t.Value, sum.RequestedRate)
		}
	}
	res.Pass = Compare(actual, t.Op, want)
	return res
}

func distOf(s record.Summary, m record.Metric) record.Distribution {
	switch m {
	case record.Latency:
		return s.Latency
	case record.E2E:
		return s.E2E
	}
	return s.Intended
}

func pct(v float64) string { return strconv.FormatFloat(math.Round(v*1e5)/1e3, 'f', -1, 64) + "%" }

// Compare applies a threshold operator (<, <=, >, >=, ==) to a and b; an
// unknown operator is false.
func Compare(a float64, op string, b float64) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "==":
		return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	return false
}

// CheckAll evaluates every threshold; passed is true when all pass.
func CheckAll(ts []Threshold, src Source) (results []Result, passed bool) {
	passed = true
	for _, t := range ts {
		r := t.Check(src)
		results = append(results, r)
		passed = passed && r.Pass
	}
	return results, passed
}
