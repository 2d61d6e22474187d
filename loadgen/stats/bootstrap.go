package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// DefaultResamples is the number of bootstrap resamples used when Bootstrap.Resamples is 0.
const DefaultResamples = 2000

// MinResamples is the fewest resamples Bootstrap accepts: fewer make the interval's
// ends (the 2.5th and 97.5th percentiles of the resampled statistic) too noisy.
const MinResamples = 1000

// Bootstrap computes percentile-bootstrap confidence intervals: the statistic is
// recomputed on Resamples resamples (drawn with replacement, same size as the data) and
// the interval is the central Level part of those values. Two runs with the same Seed
// and data give the same intervals.
//
// A resample's quantile depends on only one or two of its order statistics, and the
// k-th smallest of n indices drawn uniformly with replacement is floor(n·U) where U is
// the k-th smallest of n uniforms, U ~ Beta(k, n−k+1). Bootstrap draws those order
// statistics directly instead of materialising each resample, so a resample costs O(1)
// whatever the sample size, and the result has exactly the distribution of the
// classic resample-then-sort procedure.
type Bootstrap struct {
	// Resamples is the number of resamples (default DefaultResamples, at least MinResamples).
	Resamples int
	// Level is the confidence level, e.g. 0.95 (default 0.95).
	Level float64
	// Seed makes the resampling reproducible.
	Seed uint64
}

func (b Bootstrap) normalized() (Bootstrap, error) {
	if b.Resamples == 0 {
		b.Resamples = DefaultResamples
	}
	if b.Level == 0 {
		b.Level = 0.95
	}
	if b.Resamples < MinResamples {
		return b, fmt.Errorf("bootstrap resamples %d: use at least %d", b.Resamples, MinResamples)
	}
	if !(b.Level > 0 && b.Level < 1) {
		return b, fmt.Errorf("confidence level %v: use a value strictly between 0 and 1, e.g. 0.95", b.Level)
	}
	return b, nil
}

// Quantile returns the sample's q-quantile with its bootstrap confidence interval.
func (b Bootstrap) Quantile(s Sample, q float64) (Estimate, error) {
	b, err := b.normalized()
	if err != nil {
		return Estimate{}, err
	}
	if s.Len() == 0 {
		return Estimate{}, fmt.Errorf("quantile %v of an empty sample: collect at least one observation", q)
	}
	rng := newRand(b.Seed, 0)
	draws := make([]float64, b.Resamples)
	for i := range draws {
		draws[i] = resampledQuantile(rng, s.sorted, q)
	}
	return Estimate{Value: s.Quantile(q), CI: percentileInterval(draws, b.Level)}, nil
}

// TwoSample compares the q-quantiles of samples A and B, resampled independently.
type TwoSample struct {
	// Q is the quantile compared, e.g. 0.5.
	Q float64 `json:"q"`
	// A and B are each sample's quantile with its interval.
	A Estimate `json:"a"`
	B Estimate `json:"b"`
	// Diff is quantile(A) − quantile(B).
	Diff Estimate `json:"diff"`
	// Ratio is quantile(A) / quantile(B); its interval comes from bootstrapping the
	// ratio itself, not from combining the two separate intervals.
	Ratio Estimate `json:"ratio"`
}

// Significant reports whether the interval of the difference excludes 0 (equivalently
// the ratio's excludes 1 — both come from the same resamples).
func (t TwoSample) Significant() bool { return !t.Diff.CI.Contains(0) }

// Compare bootstraps the q-quantiles of a and b, their difference and their ratio from
// one set of paired draws. The ratio is undefined (NaN) when B's quantile is 0.
func (b Bootstrap) Compare(a, bs Sample, q float64) (TwoSample, error) {
	b, err := b.normalized()
	if err != nil {
		return TwoSample{}, err
	}
	if a.Len() == 0 || bs.Len() == 0 {
		return TwoSample{}, fmt.Errorf("compare quantile %v: both samples need observations (have %d and %d)", q, a.Len(), bs.Len())
	}
	rngA, rngB := newRand(b.Seed, 1), newRand(b.Seed, 2)
	da := make([]float64, b.Resamples)
	db := make([]float64, b.Resamples)
	diff := make([]float64, b.Resamples)
	ratio := make([]float64, b.Resamples)
	for i := range da {
		da[i] = resampledQuantile(rngA, a.sorted, q)
		db[i] = resampledQuantile(rngB, bs.sorted, q)
		diff[i] = da[i] - db[i]
		ratio[i] = da[i] / db[i]
	}
	qa, qb := a.Quantile(q), bs.Quantile(q)
	return TwoSample{
		Q:     q,
		A:     Estimate{Value: qa, CI: percentileInterval(da, b.Level)},
		B:     Estimate{Value: qb, CI: percentileInterval(db, b.Level)},
		Diff:  Estimate{Value: qa - qb, CI: percentileInterval(diff, b.Level)},
		Ratio: Estimate{Value: qa / qb, CI: percentileInterval(ratio, b.Level)},
	}, nil
}

// percentileInterval is the central level part of draws (which it sorts in place).
// NaN draws (0/0 ratios) are dropped; an all-NaN set gives a NaN interval.
func percentileInterval(draws []float64, level float64) Interval {
	draws = slices.DeleteFunc(draws, math.IsNaN)
	slices.Sort(draws)
	alpha := (1 - level) / 2
	return Interval{Lo: Quantile(draws, alpha), Hi: Quantile(draws, 1-alpha), Level: level}
}

// newRand returns the generator of stream number stream for seed, so that independent
// resampling streams never share state.
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15*(stream+1)))
}

// resampledQuantile draws the type-7 q-quantile of one bootstrap resample of sorted
// without building the resample (see Bootstrap).
func resampledQuantile(rng *rand.Rand, sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	j, frac := rank(n, q)
	// The (j+1)-th smallest of n uniforms (1-based rank j+1).
	u := betaVariate(rng, float64(j+1), float64(n-j))
	lo := sorted[index(n, u)]
	if frac == 0 {
		return lo
	}
	// Given it, the next order statistic is the smallest of the remaining n−j−1
	// uniforms on (u, 1): u + (1−u)·(1 − V^(1/m)).
	m := float64(n - j - 1)
	next := u + (1-u)*(-math.Expm1(math.Log(1-rng.Float64())/m))
	hi := sorted[index(n, next)]
	return lo + frac*(hi-lo)
}

// index maps a uniform in [0,1) to the 0-based index floor(n·u) of a uniform draw.
func index(n int, u float64) int {
	i := int(float64(n) * u)
	return min(max(i, 0), n-1)
}

// betaVariate draws Beta(a, b) for a, b >= 1 as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
func betaVariate(rng *rand.Rand, a, b float64) float64 {
	x := gammaVariate(rng, a)
	y := gammaVariate(rng, b)
	return x / (x + y)
}

// gammaVariate draws Gamma(shape, 1) for shape >= 1 (Marsaglia and Tsang, 2000).
func gammaVariate(rng *rand.Rand, shape float64) float64 {
	if shape == 1 {
		return -math.Log(1 - rng.Float64())
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x {
			return d * v
		}
		if u > 0 && math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
