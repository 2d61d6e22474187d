package stats

import (
	"fmt"
	"math"
	"slices"
)

// Paired holds two quantities measured in the same blocks — e.g. the latencies two
// targets gave in each round of an interleaved benchmark: A's and B's value of block i
// come from round i. A block may lack either value (a failed request). Build one with
// NewPaired.
type Paired struct {
	a, b []float64
	// orderA and orderB are the blocks that have an A (a B) value, by ascending value.
	orderA, orderB []int
}

// NewPaired pairs a[i] with b[i]; NaN marks a missing value. The slices must have
// the same length (one entry per block).
func NewPaired(a, b []float64) (Paired, error) {
	if len(a) != len(b) {
		return Paired{}, fmt.Errorf("paired sample: %d A values and %d B values; give one of each per block (NaN where missing)", len(a), len(b))
	}
	return Paired{a: slices.Clone(a), b: slices.Clone(b), orderA: order(a), orderB: order(b)}, nil
}

func order(v []float64) []int {
	var idx []int
	for i, x := range v {
		if !math.IsNaN(x) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		switch {
		case v[i] < v[j]:
			return -1
		case v[i] > v[j]:
			return 1
		}
		return 0
	})
	return idx
}

// Blocks is the number of blocks.
func (p Paired) Blocks() int { return len(p.a) }

// A and B return each side's observations as a Sample (missing values dropped).
func (p Paired) A() Sample { return NewSample(p.a) }

// B returns B's observations as a Sample (missing values dropped).
func (p Paired) B() Sample { return NewSample(p.b) }

// ComparePaired is Compare for paired observations: each resample draws blocks with
// replacement — the same blocks for A and B — so whatever the two sides share within a
// block (drift over time, a slow moment of the client) stays paired, and the interval
// of the difference reflects only what differs. The quantiles of A and of B are those
// of the values the drawn blocks hold (blocks drawn twice count twice). One result per
// quantile in qs, from one set of resamples.
func (b Bootstrap) ComparePaired(p Paired, qs ...float64) ([]TwoSample, error) {
	b, err := b.normalized()
	if err != nil {
		return nil, err
	}
	if len(p.orderA) == 0 || len(p.orderB) == 0 {
		return nil, fmt.Errorf("compare paired quantiles: both sides need observations (have %d and %d)", len(p.orderA), len(p.orderB))
	}
	for _, q := range qs {
		if !(q >= 0 && q <= 1) {
			return nil, fmt.Errorf("quantile %v: want a value in [0, 1]", q)
		}
	}
	n := len(p.a)
	rng := newRand(b.Seed, 3)
	counts := make([]int32, n)
	type draws struct{ a, b, diff, ratio []float64 }
	d := make([]draws, len(qs))
	for k := range d {
		d[k] = draws{make([]float64, b.Resamples), make([]float64, b.Resamples), make([]float64, b.Resamples), make([]float64, b.Resamples)}
	}
	qa, qb := make([]float64, len(qs)), make([]float64, len(qs))
	for r := range b.Resamples {
		clear(counts)
		for range n {
			counts[rng.IntN(n)]++
		}
		weightedQuantiles(p.a, p.orderA, counts, qs, qa)
		weightedQuantiles(p.b, p.orderB, counts, qs, qb)
		for k := range qs {
			d[k].a[r], d[k].b[r] = qa[k], qb[k]
			d[k].diff[r], d[k].ratio[r] = qa[k]-qb[k], qa[k]/qb[k]
		}
	}
	sa, sb := p.A(), p.B()
	out := make([]TwoSample, len(qs))
	for k, q := range qs {
		va, vb := sa.Quantile(q), sb.Quantile(q)
		out[k] = TwoSample{
			Q:     q,
			A:     Estimate{Value: va, CI: percentileInterval(d[k].a, b.Level)},
			B:     Estimate{Value: vb, CI: percentileInterval(d[k].b, b.Level)},
			Diff:  Estimate{Value: va - vb, CI: percentileInterval(d[k].diff, b.Level)},
			Ratio: Estimate{Value: va / vb, CI: percentileInterval(d[k].ratio, b.Level)},
		}
	}
	return out, nil
}

// weightedQuantiles writes into out the type-7 quantiles qs of the multiset holding
// values[i] counts[i] times, for the blocks in order (ascending by value). It walks the
// blocks once; out[k] is NaN when the multiset is empty.
func weightedQuantiles(values []float64, order []int, counts []int32, qs []float64, out []float64) {
	m := 0
	for _, i := range order {
		m += int(counts[i])
	}
	if m == 0 {
		for k := range out {
			out[k] = math.NaN()
		}
		return
	}
	// The order statistics (0-based ranks) each quantile needs: j, and j+1 when it
	// interpolates.
	type need struct {
		rank, k int
		weight  float64
	}
	needs := make([]need, 0, 2*len(qs))
	for k, q := range qs {
		j, frac := rank(m, q)
		out[k] = 0
		needs = append(needs, need{j, k, 1 - frac})
		if frac > 0 {
			needs = append(needs, need{j + 1, k, frac})
		}
	}
	slices.SortFunc(needs, func(x, y need) int { return x.rank - y.rank })
	cum, next := 0, 0
	for _, i := range order {
		c := int(counts[i])
		if c == 0 {
			continue
		}
		cum += c
		for next < len(needs) && needs[next].rank < cum {
			out[needs[next].k] += needs[next].weight * values[i]
			next++
		}
		if next == len(needs) {
			return
		}
	}
}

// TailCount is how many of n observations lie above the lower of the two order
// statistics the type-7 q-quantile rests on: for the 50 values of a p90 (position
// 44.1, between the 45th and 46th smallest) it is 5, the 5 slowest. A position within
// 1e-9 of a whole number counts as that order statistic, so floating-point noise in
// (n−1)·q does not shift the count by one.
func TailCount(n int, q float64) int {
	if n <= 0 {
		return 0
	}
	q = math.Min(math.Max(q, 0), 1)
	h := float64(n-1) * q
	j := int(math.Floor(h))
	if r := math.Round(h); math.Abs(h-r) < 1e-9 {
		j = int(r)
	}
	return n - 1 - min(j, n-1)
}

// MinSizeForTail is the smallest sample size n whose q-quantile has at least k
// observations above it (TailCount(n, q) >= k); 0 when no size has (q = 1).
func MinSizeForTail(q float64, k int) int {
	if k <= 0 {
		return 1
	}
	if !(q < 1) {
		return 0
	}
	// TailCount(n, q) <= (n−1)(1−q) + 1 and grows by at most one per n: start just
	// below the first n that could reach k.
	n := max(1, int((float64(k-1))/(1-q)))
	for TailCount(n, q) < k {
		n++
	}
	return n
}

// Validate reports whether b's settings are usable (after defaults), e.g. to refuse
// a bad --confidence before any data is collected.
func (b Bootstrap) Validate() error {
	_, err := b.normalized()
	return err
}
