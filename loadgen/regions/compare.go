package regions

import (
	"fmt"
	"math"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/stats"
)

// Estimate is a latency with its confidence interval.
type Estimate struct {
	Value time.Duration `json:"value"`
	Lo    time.Duration `json:"lo"`
	Hi    time.Duration `json:"hi"`
}

func durationEstimate(e stats.Estimate) Estimate {
	return Estimate{Value: fromMillis(e.Value), Lo: fromMillis(e.CI.Lo), Hi: fromMillis(e.CI.Hi)}
}

func fromMillis(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

// Ratio is a ratio of two latencies with its confidence interval.
type Ratio struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// Comparison compares one quantile of two samples, A and B.
type Comparison struct {
	// Q is the quantile, e.g. 0.5 for p50; Level the confidence level.
	Q     float64 `json:"q"`
	Level float64 `json:"level"`
	// A and B are each sample's quantile.
	A Estimate `json:"a"`
	B Estimate `json:"b"`
	// Diff is A − B: negative when A is faster.
	Diff Estimate `json:"diff"`
	// Ratio is A / B, its interval bootstrapped from the ratio itself.
	Ratio Ratio `json:"ratio"`
	// Significant is true when Diff's interval excludes 0 (and Ratio's excludes 1).
	Significant bool `json:"significant"`
}

// Compare bootstraps quantile q (0..1) of samples a and b, their difference and their
// ratio, at confidence level conf with resamples resamples (percentile bootstrap,
// each sample resampled on its own, deterministic for a seed).
func Compare(a, b Samples, q, conf float64, resamples int, seed uint64) (Comparison, error) {
	ts, err := stats.Bootstrap{Resamples: resamples, Level: conf, Seed: seed}.Compare(
		stats.NewSample(a.Millis()), stats.NewSample(b.Millis()), q)
	if err != nil {
		return Comparison{}, err
	}
	return comparisonFrom(ts), nil
}

func comparisonFrom(ts stats.TwoSample) Comparison {
	return Comparison{
		Q:           ts.Q,
		Level:       ts.Diff.CI.Level,
		A:           durationEstimate(ts.A),
		B:           durationEstimate(ts.B),
		Diff:        durationEstimate(ts.Diff),
		Ratio:       Ratio{Value: ts.Ratio.Value, Lo: ts.Ratio.CI.Lo, Hi: ts.Ratio.CI.Hi},
		Significant: ts.Significant(),
	}
}

// Faster returns 'a' or 'b' — the sample with the lower quantile — or 0 when the
// difference is not significant.
func (c Comparison) Faster() byte {
	switch {
	case !c.Significant:
		return 0
	case c.Diff.Value < 0:
		return 'a'
	default:
		return 'b'
	}
}

// Reduction is how much lower the faster sample's latency is, as a fraction of the
// slower one's (0.41 = "41% lower latency"), with its interval; for a non-significant
// difference it is relative to B.
func (c Comparison) Reduction() Ratio {
	if c.Faster() == 'b' {
		// B/A = 1/ratio: the percentile interval maps through the monotone inverse.
		return Ratio{Value: 1 - 1/c.Ratio.Value, Lo: 1 - 1/c.Ratio.Lo, Hi: 1 - 1/c.Ratio.Hi}
	}
	return Ratio{Value: 1 - c.Ratio.Value, Lo: 1 - c.Ratio.Hi, Hi: 1 - c.Ratio.Lo}
}

// Times is how many times the faster sample's latency the slower one's is (2.5 =
// "2.5× the latency"), with its interval; for a non-significant difference it is A/B.
func (c Comparison) Times() Ratio {
	if c.Faster() == 'a' {
		return Ratio{Value: 1 / c.Ratio.Value, Lo: 1 / c.Ratio.Hi, Hi: 1 / c.Ratio.Lo}
	}
	return c.Ratio
}

// Verdict states the comparison in one sentence, naming A and B, e.g.
// "eu has 41% lower latency than us at p50 (95% CI 38–44%; 60.2 ms lower, 95% CI
// 59.8–60.7 ms; us has 1.70× the latency, 95% CI 1.61–1.79)" or "no significant
// difference at p50 between eu and us (...)".
func (c Comparison) Verdict(nameA, nameB string) string {
	p := QuantileName(c.Q)
	level := fmt.Sprintf("%g%%", c.Level*100)
	if c.Faster() == 0 {
		return fmt.Sprintf("no significant difference at %s between %s and %s (%s %s vs %s %s; difference %s CI %s to %s)",
			p, nameA, nameB, nameA, ms(c.A.Value), nameB, ms(c.B.Value), level, signedMs(c.Diff.Lo), signedMs(c.Diff.Hi))
	}
	fast, slow, lower := nameA, nameB, -c.Diff.Value
	lo, hi := -c.Diff.Hi, -c.Diff.Lo
	if c.Faster() == 'b' {
		fast, slow, lower, lo, hi = nameB, nameA, c.Diff.Value, c.Diff.Lo, c.Diff.Hi
	}
	r, x := c.Reduction(), c.Times()
	return fmt.Sprintf("%s has %s lower latency than %s at %s (%s CI %s; %s lower, %s CI %s–%s; %s has %.2f× the latency, %s CI %.2f–%.2f)",
		fast, pct(r.Value, r), slow, p, level, pctRange(r), ms(lower), level, msNum(lo), ms(hi), slow, x.Value, level, x.Lo, x.Hi)
}

// independentClause says what the independent bootstrap found where it disagrees
// with the paired one.
func independentClause(ind Comparison) string {
	level := fmt.Sprintf("%g%%", ind.Level*100)
	if ind.Significant {
		return fmt.Sprintf("the independent bootstrap, which ignores the pairing of rounds, finds the difference significant (%s CI %s to %s)",
			level, signedMs(ind.Diff.Lo), signedMs(ind.Diff.Hi))
	}
	return fmt.Sprintf("the independent bootstrap, which ignores the pairing of rounds, finds no significant difference (%s CI %s to %s)",
		level, signedMs(ind.Diff.Lo), signedMs(ind.Diff.Hi))
}

// QuantileName is the usual label of quantile q: 0.5 → "p50", 0.999 → "p99.9".
func QuantileName(q float64) string { return "p" + fmt.Sprint(math.Round(q*1e4)/1e2) }

func ms(d time.Duration) string { return msNum(d) + " ms" }

func msNum(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func signedMs(d time.Duration) string {
	if d >= 0 {
		return "+" + ms(d)
	}
	return "−" + ms(-d)
}

// pct formats a fraction as a percentage, with one decimal when the interval r it
// belongs to is too narrow for whole percents to tell its ends apart.
func pct(f float64, r Ratio) string { return pctNum(f, r) + "%" }

func pctRange(r Ratio) string { return pctNum(r.Lo, r) + "–" + pct(r.Hi, r) }

func pctNum(f float64, r Ratio) string {
	if r.Hi-r.Lo < 0.03 {
		return fmt.Sprintf("%.1f", f*100)
	}
	return fmt.Sprintf("%.0f", f*100)
}
