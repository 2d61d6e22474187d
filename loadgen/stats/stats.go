// Package stats holds the statistics the benchmarks report: sample quantiles and
// percentile-bootstrap confidence intervals of a quantile, of the difference and of the
// ratio of two samples' quantiles. Everything is deterministic for a given seed.
package stats

import (
	"fmt"
	"math"
	"slices"
)

// Sample is a set of observations sorted ascending. Build one with NewSample.
type Sample struct {
	sorted []float64
}

// NewSample copies values into a Sample, dropping NaNs.
func NewSample(values []float64) Sample {
	s := make([]float64, 0, len(values))
	for _, v := range values {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	slices.Sort(s)
	return Sample{sorted: s}
}

// Len is the number of observations.
func (s Sample) Len() int { return len(s.sorted) }

// Sorted returns the observations in ascending order; callers must not modify it.
func (s Sample) Sorted() []float64 { return s.sorted }

// Quantile is the sample's q-quantile (see Quantile). It is NaN for an empty sample.
func (s Sample) Quantile(q float64) float64 { return Quantile(s.sorted, q) }

// Quantile returns the q-quantile (0 <= q <= 1) of sorted, which must be ascending:
// linear interpolation between the order statistics around (n-1)q, the definition R
// calls type 7 and NumPy uses by default. It returns NaN when sorted is empty.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	j, frac := rank(n, q)
	if frac == 0 {
		return sorted[j]
	}
	return sorted[j] + frac*(sorted[j+1]-sorted[j])
}

// rank splits the type-7 position (n-1)q into the lower 0-based order statistic j and
// the interpolation weight of the next one; frac is 0 whenever j+1 would be out of range.
func rank(n int, q float64) (j int, frac float64) {
	q = math.Min(math.Max(q, 0), 1)
	h := float64(n-1) * q
	j = int(math.Floor(h))
	if j >= n-1 {
		return n - 1, 0
	}
	return j, h - float64(j)
}

// Interval is a two-sided confidence interval [Lo, Hi] at confidence Level.
type Interval struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Level float64 `json:"level"`
}

// Contains reports whether x lies inside the interval, bounds included.
func (iv Interval) Contains(x float64) bool { return iv.Lo <= x && x <= iv.Hi }

// Estimate is a point estimate with its confidence interval.
type Estimate struct {
	Value float64  `json:"value"`
	CI    Interval `json:"ci"`
}

func (e Estimate) String() string {
	return fmt.Sprintf("%.4g (%.0f%% CI %.4g–%.4g)", e.Value, e.CI.Level*100, e.CI.Lo, e.CI.Hi)
}
