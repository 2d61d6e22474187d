package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// pairedData has a shared per-block drift (sd 20) and a fixed shift of 5 between A and
// B, with every tenth B missing.
func pairedData(seed uint64, n int) (a, b []float64) {
	r := rand.New(rand.NewPCG(seed, 5))
	a, b = make([]float64, n), make([]float64, n)
	for i := range a {
		drift := 100 + 20*r.NormFloat64()
		a[i] = drift + r.ExpFloat64()
		b[i] = drift + 5 + r.ExpFloat64()
		if i%10 == 3 {
			b[i] = math.NaN()
		}
	}
	return a, b
}

// naivePaired is the textbook block bootstrap: draw n blocks with replacement, gather
// each side's values of the drawn blocks, sort, take the quantile.
func naivePaired(rng *rand.Rand, a, b []float64, q float64) (float64, float64) {
	var ra, rb []float64
	for range a {
		i := rng.IntN(len(a))
		if !math.IsNaN(a[i]) {
			ra = append(ra, a[i])
		}
		if !math.IsNaN(b[i]) {
			rb = append(rb, b[i])
		}
	}
	slices.Sort(ra)
	slices.Sort(rb)
	return Quantile(ra, q), Quantile(rb, q)
}

// The one-pass weighted quantiles draw from the same distribution as resampling blocks.
func TestComparePairedMatchesNaiveBlockResampling(t *testing.T) {
	a, b := pairedData(1, 60)
	p, err := NewPaired(a, b)
	if err != nil {
		t.Fatal(err)
	}
	const draws = 20000
	qs := []float64{0.5, 0.9}
	counts := make([]int32, len(a))
	fast := make([][]float64, len(qs))
	naive := make([][]float64, len(qs))
	rf, rn := newRand(11, 0), newRand(12, 0)
	qa, qb := make([]float64, len(qs)), make([]float64, len(qs))
	for range draws {
		clear(counts)
		for range a {
			counts[rf.IntN(len(a))]++
		}
		weightedQuantiles(p.a, p.orderA, counts, qs, qa)
		weightedQuantiles(p.b, p.orderB, counts, qs, qb)
		for k, q := range qs {
			fast[k] = append(fast[k], qa[k]-qb[k])
			na, nb := naivePaired(rn, a, b, q)
			naive[k] = append(naive[k], na-nb)
		}
	}
	for k, q := range qs {
		slices.Sort(fast[k])
		slices.Sort(naive[k])
		worst := 0.0
		for i := 0; i < draws; i += 100 {
			x := naive[k][i]
			worst = math.Max(worst, math.Abs(float64(upper(fast[k], x))-float64(upper(naive[k], x)))/draws)
		}
		if worst > 0.0195 {
			t.Errorf("q=%v: paired bootstrap differs from naive block resampling: KS distance %.4f", q, worst)
		}
	}
}

// With a shared drift the paired interval of the difference is much narrower than the
// independent one, and both hold the true shift.
func TestComparePairedUsesThePairing(t *testing.T) {
	a, b := pairedData(2, 400)
	p, err := NewPaired(a, b)
	if err != nil {
		t.Fatal(err)
	}
	boot := Bootstrap{Seed: 3}
	paired, err := boot.ComparePaired(p, 0.5, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	indep, err := boot.Compare(p.A(), p.B(), 0.5)
	if err != nil {
		t.Fatal(err)
	}
	pw := paired[0].Diff.CI.Hi - paired[0].Diff.CI.Lo
	iw := indep.Diff.CI.Hi - indep.Diff.CI.Lo
	t.Logf("p50 difference: paired %v, independent %v", paired[0].Diff, indep.Diff)
	if pw > iw/2 {
		t.Errorf("paired interval width %.2f, independent %.2f: want the paired one under half as wide", pw, iw)
	}
	if !paired[0].Diff.CI.Contains(-5) || !paired[0].Significant() {
		t.Errorf("paired p50 difference %v: want it significant and holding the shift -5", paired[0].Diff)
	}
	if paired[0].Diff.Value != indep.Diff.Value || paired[0].A.Value != p.A().Quantile(0.5) {
		t.Errorf("point estimates differ: paired %v, independent %v", paired[0].Diff.Value, indep.Diff.Value)
	}
	if paired[1].Q != 0.9 || !(paired[1].Ratio.CI.Lo < 1 && paired[1].Ratio.CI.Hi < 1) {
		t.Errorf("p90 ratio %v: want below 1 (A is faster)", paired[1].Ratio)
	}
	again, _ := boot.ComparePaired(p, 0.5, 0.9)
	if again[0] != paired[0] || again[1] != paired[1] {
		t.Error("same seed, different paired results")
	}
}

func TestComparePairedRejectsBadInput(t *testing.T) {
	if _, err := NewPaired([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("unequal lengths accepted")
	}
	p, _ := NewPaired([]float64{1, 2}, []float64{math.NaN(), math.NaN()})
	if _, err := (Bootstrap{}).ComparePaired(p, 0.5); err == nil {
		t.Error("a side without observations accepted")
	}
	p, _ = NewPaired([]float64{1, 2}, []float64{1, 2})
	if _, err := (Bootstrap{Resamples: 10}).ComparePaired(p, 0.5); err == nil {
		t.Error("10 resamples accepted")
	}
	if _, err := (Bootstrap{}).ComparePaired(p, 1.5); err == nil {
		t.Error("quantile 1.5 accepted")
	}
}

func TestTailCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		q    float64
		want int
	}{
		// p90 of 50 sits between the 45th and 46th smallest: 5 values above the lower one.
		// n·(1−q) = 4.999… in floating point, which once gave 4.
		{50, 0.9, 5},
		{70, 0.95, 4}, // n·(1−q) = 3.5 would say 3
		{300, 0.99, 3},
		{101, 0.57, 43}, // (n−1)q = 56.99999999999999: the 57th order statistic
		{1, 0.99, 0},
		{10, 1, 0},
		{10, 0, 9},
		{0, 0.5, 0},
	} {
		if got := TailCount(c.n, c.q); got != c.want {
			t.Errorf("TailCount(%d, %v) = %d, want %d", c.n, c.q, got, c.want)
		}
	}
	for _, q := range []float64{0.9, 0.95, 0.99, 0.999} {
		n := MinSizeForTail(q, 5)
		if TailCount(n, q) < 5 || TailCount(n-1, q) >= 5 {
			t.Errorf("MinSizeForTail(%v, 5) = %d: tail %d there, %d at n−1", q, n, TailCount(n, q), TailCount(n-1, q))
		}
	}
	if MinSizeForTail(1, 5) != 0 {
		t.Error("MinSizeForTail(1, 5): no size has 5 values above the maximum, want 0")
	}
}
