package regions

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/threshold"
)

// Threshold is a pass/fail rule on a region benchmark, compared on the point
// estimates of the analysed metric. Write it as
//
//	rule     = operand op operand
//	op       = "<" | "<=" | ">" | ">="
//	operand  = ref | factor "*" ref | duration
//	ref      = target "." stat
//	stat     = "p(" percent ")" | "med" | "avg"
//	factor   = a positive number, e.g. 0.8
//	duration = a Go duration, e.g. 200ms
//
// with at least one ref, e.g. "eu.p(95) < us.p(95)", "eu.p(99) < 200ms",
// "eu.p(95) < 0.8*us.p(95)". med is p(50); avg is the mean. Spaces are optional.
// Parse with ParseThreshold; AnalyzeOptions.Thresholds has Analyze check them.
type Threshold struct {
	// Source is the rule as written.
	Source string `json:"rule"`
	// Op is the comparison.
	Op          string  `json:"op"`
	Left, Right operand `json:"-"`
}

// operand is one side of a Threshold: Factor × Target's Stat, or a fixed Limit when
// Target is empty.
type operand struct {
	Target string
	// Q is the quantile (0.95 for p(95)); statMean for avg.
	Q      float64
	Factor float64
	Limit  time.Duration
}

const statMean = -1

func (o operand) isRef() bool { return o.Target != "" }

func (o operand) stat() string {
	if o.Q == statMean {
		return "avg"
	}
	return QuantileName(o.Q)
}

func (o operand) String() string {
	if !o.isRef() {
		return o.Limit.String()
	}
	s := o.Target + " " + o.stat()
	if o.Factor != 1 {
		s = strconv.FormatFloat(o.Factor, 'g', -1, 64) + " × " + s
	}
	return s
}

// ParseThreshold parses one rule; targets are the names a rule may refer to. Errors
// wrap ErrInvalidOptions and name the part not understood (an unknown target is
// listed with the known ones).
func ParseThreshold(rule string, targets []string) (Threshold, error) {
	src := strings.TrimSpace(rule)
	fail := func(format string, a ...any) (Threshold, error) {
		return Threshold{}, invalid("threshold %q: %s", src, fmt.Sprintf(format, a...))
	}
	i := strings.IndexAny(src, "<>")
	if i < 0 {
		if strings.Contains(src, "=") {
			return fail("operator not understood; use <, <=, > or >= (== is never met by measured latencies), e.g. eu.p(95) < us.p(95)")
		}
		return fail("no comparison; write e.g. eu.p(95) < us.p(95), eu.p(99) < 200ms or eu.p(95) < 0.8*us.p(95)")
	}
	op := src[i : i+1]
	if strings.HasPrefix(src[i+1:], "=") {
		op += "="
	}
	t := Threshold{Source: src, Op: op}
	left, right := strings.TrimSpace(src[:i]), strings.TrimSpace(src[i+len(op):])
	if strings.ContainsAny(right, "<>") {
		return fail("more than one comparison; write one per rule")
	}
	var err error
	if t.Left, err = parseOperand(left, targets); err != nil {
		return fail("left side: %v", err)
	}
	if t.Right, err = parseOperand(right, targets); err != nil {
		return fail("right side: %v", err)
	}
	if !t.Left.isRef() && !t.Right.isRef() {
		return fail("compares two fixed durations; name a target's statistic on one side, e.g. eu.p(99) < 200ms")
	}
	return t, nil
}

// ParseThresholds parses every rule, reporting every bad one.
func ParseThresholds(rules []string, targets []string) ([]Threshold, error) {
	var out []Threshold
	var errs []string
	for _, r := range rules {
		t, err := ParseThreshold(r, targets)
		if err != nil {
			errs = append(errs, strings.TrimPrefix(err.Error(), ErrInvalidOptions.Error()+": "))
			continue
		}
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, invalid("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

func parseOperand(s string, targets []string) (operand, error) {
	if s == "" {
		return operand{}, fmt.Errorf("empty")
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return operand{}, fmt.Errorf("duration %s: want a positive limit", d)
		}
		return operand{Limit: d}, nil
	}
	o := operand{Factor: 1}
	if f, ref, ok := strings.Cut(s, "*"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return operand{}, fmt.Errorf("factor %q: want a positive number, as in 0.8*us.p(95)", strings.TrimSpace(f))
		}
		o.Factor, s = v, strings.TrimSpace(ref)
	}
	// The statistic follows the last '.' that is not inside p(…).
	cut := strings.LastIndex(s, ".p(")
	if cut < 0 {
		cut = strings.LastIndex(s, ".")
	}
	if cut <= 0 {
		return operand{}, fmt.Errorf("%q: want TARGET.STAT (e.g. eu.p(95), eu.med, eu.avg) or a duration (e.g. 200ms)", s)
	}
	name, stat := strings.TrimSpace(s[:cut]), strings.TrimSpace(s[cut+1:])
	if !slices.Contains(targets, name) {
		return operand{}, fmt.Errorf("unknown target %q; the targets are %s", name, strings.Join(targets, ", "))
	}
	o.Target = name
	switch {
	case stat == "med":
		o.Q = 0.5
	case stat == "avg" || stat == "mean":
		o.Q = statMean
	case strings.HasPrefix(stat, "p(") && strings.HasSuffix(stat, ")"):
		p, err := strconv.ParseFloat(strings.TrimSpace(stat[2:len(stat)-1]), 64)
		if err != nil || !(p > 0 && p <= 100) {
			return operand{}, fmt.Errorf("percentile %q: want a number in (0, 100], e.g. p(99.9)", stat[2:len(stat)-1])
		}
		o.Q = p / 100
	default:
		return operand{}, fmt.Errorf("statistic %q of %s: use p(N), med or avg", stat, name)
	}
	return o, nil
}

// quantiles returns the quantiles the rule needs reported.
func (t Threshold) quantiles() []float64 {
	var qs []float64
	for _, o := range []operand{t.Left, t.Right} {
		if o.isRef() && o.Q != statMean {
			qs = append(qs, o.Q)
		}
	}
	return qs
}

// ThresholdResult is a Threshold checked against a Report.
type ThresholdResult struct {
	// Rule is the threshold as written.
	Rule string `json:"rule"`
	// Pass is the comparison of the point estimates.
	Pass bool `json:"pass"`
	// Actual states both sides' values, e.g. "eu p95 = 21.3 ms < 0.8 × us p95 = 65.0 ms"
	// or "us p99 = 118 ms is not < 90ms".
	Actual string `json:"actual"`
	// Significant is whether the confidence interval of the compared quantity lies
	// wholly on one side of the limit, so that the outcome would likely hold in a
	// rerun: for two targets at one percentile, the interval of their ratio excludes
	// the factor (the difference's excludes 0 for a factor of 1); for a fixed limit,
	// the target's interval excludes it. Nil when no interval applies (avg, or two
	// different percentiles).
	Significant *bool `json:"significant,omitempty"`
	// Note explains the significance, or why the rule could not be evaluated.
	Note string `json:"note,omitempty"`
}

// check evaluates t on r's targets and comparisons.
func (t Threshold) check(r *Report) ThresholdResult {
	res := ThresholdResult{Rule: t.Source}
	value := func(o operand) (time.Duration, *Estimate, bool) {
		if !o.isRef() {
			return o.Limit, nil, true
		}
		tr, ok := r.target(o.Target)
		if !ok || tr.Samples == 0 {
			return 0, nil, false
		}
		if o.Q == statMean {
			return time.Duration(o.Factor * float64(tr.Mean)), nil, true
		}
		for _, q := range tr.Quantiles {
			if sameQ(q.Q, o.Q) {
				e := q.Estimate
				return time.Duration(o.Factor * float64(e.Value)), &e, true
			}
		}
		return 0, nil, false
	}
	lv, le, lok := value(t.Left)
	rv, re, rok := value(t.Right)
	for _, side := range []struct {
		o  operand
		ok bool
	}{{t.Left, lok}, {t.Right, rok}} {
		if !side.ok {
			res.Note = fmt.Sprintf("%s has no successful requests, so no %s: the rule fails", side.o.Target, side.o.stat())
			return res
		}
	}
	res.Pass = threshold.Compare(float64(lv), t.Op, float64(rv))
	if res.Pass {
		res.Actual = fmt.Sprintf("%s %s %s", describe(t.Left, lv), t.Op, describe(t.Right, rv))
	} else {
		res.Actual = fmt.Sprintf("%s is not %s %s", describe(t.Left, lv), t.Op, describe(t.Right, rv))
	}
	level := fmt.Sprintf("%g%%", r.Level*100)
	switch {
	case t.Left.isRef() && t.Right.isRef():
		if t.Left.Q == statMean || t.Left.Q != t.Right.Q {
			res.Note = "significance not computed: the sides are different statistics"
			return res
		}
		c, ok := r.Comparison(t.Left.Target, t.Right.Target, t.Left.Q)
		if !ok {
			res.Note = "significance not computed: no comparison of these targets"
			return res
		}
		// Ratio of Left to Right, compared with Right.Factor / Left.Factor.
		ratio := c.Ratio
		if c.A != t.Left.Target {
			ratio = Ratio{Value: 1 / ratio.Value, Lo: 1 / ratio.Hi, Hi: 1 / ratio.Lo}
		}
		limit := t.Right.Factor / t.Left.Factor
		sig := !(ratio.Lo <= limit && limit <= ratio.Hi)
		res.Significant = &sig
		res.Note = fmt.Sprintf("%s CI of %s/%s %s: %.3g–%.3g, which %s %g", level, t.Left.Target, t.Right.Target, t.Left.stat(),
			ratio.Lo, ratio.Hi, map[bool]string{true: "excludes", false: "holds"}[sig], limit)
		if limit == 1 {
			if sig {
				res.Note += ": the difference is significant"
			} else {
				res.Note += ": the difference is not significant"
			}
		}
	default:
		ref, est, lim := t.Left, le, rv
		if !ref.isRef() {
			ref, est, lim = t.Right, re, lv
		}
		if est == nil {
			res.Note = "significance not computed: avg has no interval"
			return res
		}
		lo, hi := time.Duration(ref.Factor*float64(est.Lo)), time.Duration(ref.Factor*float64(est.Hi))
		sig := !(lo <= lim && lim <= hi)
		res.Significant = &sig
		res.Note = fmt.Sprintf("%s CI of %s: %s–%s, which %s %s", level, ref, msNum(lo), ms(hi),
			map[bool]string{true: "excludes", false: "holds"}[sig], lim)
	}
	return res
}

// describe is an operand with its value, e.g. "0.8 × us p95 = 64.8 ms" or "200ms".
func describe(o operand, v time.Duration) string {
	if !o.isRef() {
		return o.Limit.String()
	}
	return fmt.Sprintf("%s = %s", o, ms(v))
}

// sameQ reports whether two quantiles are the same up to rounding (99.9/100 is not
// the float 0.999).
func sameQ(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
