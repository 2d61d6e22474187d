package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuantileType7(t *testing.T) {
	x := []float64{1, 2, 3, 4, 10}
	cases := []struct{ q, want float64 }{
		{0, 1}, {0.25, 2}, {0.5, 3}, {0.9, 7.6}, {1, 10}, {-1, 1}, {2, 10},
	}
	for _, c := range cases {
		if got := Quantile(x, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v, %v) = %v, want %v", x, c.q, got, c.want)
		}
	}
	if got := Quantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("Quantile(empty) = %v, want NaN", got)
	}
	s := NewSample([]float64{3, math.NaN(), 1, 2})
	if s.Len() != 3 || s.Quantile(0.5) != 2 {
		t.Errorf("NewSample drops NaN and sorts: len %d median %v, want 3 and 2", s.Len(), s.Quantile(0.5))
	}
}

// naiveResampledQuantile is the textbook procedure: draw n values with replacement,
// sort, take the quantile.
func naiveResampledQuantile(rng *rand.Rand, sorted []float64, q float64) float64 {
	r := make([]float64, len(sorted))
	for i := range r {
		r[i] = sorted[rng.IntN(len(sorted))]
	}
	slices.Sort(r)
	return Quantile(r, q)
}

// The order-statistic shortcut must draw from the same distribution as resampling.
func TestResampledQuantileMatchesNaiveResampling(t *testing.T) {
	data := rand.New(rand.NewPCG(7, 7))
	values := make([]float64, 40)
	for i := range values {
		values[i] = math.Round(data.ExpFloat64()*20) / 2 // ties on purpose
	}
	s := NewSample(values)
	const draws = 20000
	for _, q := range []float64{0.5, 0.9, 0.99, 0.37} {
		fast := make([]float64, draws)
		naive := make([]float64, draws)
		rf, rn := newRand(1, 0), newRand(2, 0)
		for i := range draws {
			fast[i] = resampledQuantile(rf, s.Sorted(), q)
			naive[i] = naiveResampledQuantile(rn, s.Sorted(), q)
		}
		slices.Sort(fast)
		slices.Sort(naive)
		// Compare the two empirical CDFs at every data value (a two-sample KS distance).
		worst := 0.0
		for _, x := range s.Sorted() {
			pf := float64(upper(fast, x)) / draws
			pn := float64(upper(naive, x)) / draws
			worst = math.Max(worst, math.Abs(pf-pn))
		}
		// KS critical value at alpha=0.001 for two samples of 20000: 1.95*sqrt(2/20000) ≈ 0.0195.
		if worst > 0.0195 {
			t.Errorf("q=%v: bootstrap distribution differs from naive resampling: KS distance %.4f", q, worst)
		}
	}
}

func upper(sorted []float64, x float64) int {
	i, _ := slices.BinarySearchFunc(sorted, x, func(e, t float64) int {
		if e <= t {
			return -1
		}
		return 1
	})
	return i
}

// 95% intervals of the median and p90 of Exp(1) samples cover the true quantile in
// about 95 of 100 seeded trials, and are not trivially wide.
func TestBootstrapCoverage(t *testing.T) {
	const trials, n = 100, 300
	for _, c := range []struct {
		q, truth         float64
		minWidth, maxWid float64
	}{
		{0.5, math.Ln2, 0.12, 0.35},
		{0.9, math.Log(10), 0.35, 1.2},
	} {
		covered, width := 0, 0.0
		for trial := range trials {
			data := rand.New(rand.NewPCG(uint64(trial), 42))
			values := make([]float64, n)
			for i := range values {
				values[i] = data.ExpFloat64()
			}
			est, err := Bootstrap{Resamples: 1000, Level: 0.95, Seed: uint64(trial)}.Quantile(NewSample(values), c.q)
			if err != nil {
				t.Fatal(err)
			}
			if est.CI.Contains(c.truth) {
				covered++
			}
			if !est.CI.Contains(est.Value) {
				t.Errorf("q=%v trial %d: interval %v excludes its own point estimate %v", c.q, trial, est.CI, est.Value)
			}
			width += est.CI.Hi - est.CI.Lo
		}
		width /= trials
		t.Logf("q=%v: %d/%d intervals cover %.4f, mean width %.3f", c.q, covered, trials, c.truth, width)
		if covered < 90 {
			t.Errorf("q=%v: %d/%d 95%% intervals cover the true quantile, want >= 90", c.q, covered, trials)
		}
		if width < c.minWidth || width > c.maxWid {
			t.Errorf("q=%v: mean interval width %.3f, want within [%v, %v]", c.q, width, c.minWidth, c.maxWid)
		}
	}
}

func TestBootstrapDeterministic(t *testing.T) {
	data := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float64, 200), make([]float64, 200)
	for i := range a {
		a[i], b[i] = data.NormFloat64()+10, data.NormFloat64()+11
	}
	sa, sb := NewSample(a), NewSample(b)
	run := func(seed uint64) TwoSample {
		t.Helper()
		c, err := Bootstrap{Seed: seed}.Compare(sa, sb, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if x, y := run(3), run(3); x != y {
		t.Errorf("same seed, different results:\n%+v\n%+v", x, y)
	}
	if x, y := run(3), run(4); x.Diff.CI == y.Diff.CI {
		t.Errorf("different seeds gave identical intervals %+v: the seed is not used", x.Diff.CI)
	}
}

func TestCompare(t *testing.T) {
	gen := func(seed uint64, n int, shift float64) Sample {
		r := rand.New(rand.NewPCG(seed, 9))
		v := make([]float64, n)
		for i := range v {
			v[i] = shift + 5*r.ExpFloat64()
		}
		return NewSample(v)
	}
	// Same distribution: significant in about 5% of pairs at most.
	significant := 0
	for i := range uint64(40) {
		c, err := Bootstrap{Seed: i}.Compare(gen(2*i, 300, 20), gen(2*i+1, 300, 20), 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if c.Significant() {
			significant++
		}
	}
	if significant > 5 {
		t.Errorf("same distribution judged different in %d/40 pairs, want <= 5", significant)
	}
	// A shift of 60: significant, the right sign, and the interval holds the truth.
	c, err := Bootstrap{Seed: 1}.Compare(gen(100, 300, 20), gen(101, 300, 80), 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Significant() || c.Diff.CI.Hi >= 0 {
		t.Errorf("shifted samples: diff %v, want significant and negative", c.Diff)
	}
	if !c.Diff.CI.Contains(-60) {
		t.Errorf("diff interval %v does not contain the true shift -60", c.Diff.CI)
	}
	trueRatio := (20 + 5*math.Ln2) / (80 + 5*math.Ln2)
	if !c.Ratio.CI.Contains(trueRatio) || c.Ratio.CI.Contains(1) {
		t.Errorf("ratio interval %v: want it to hold %.4f and exclude 1", c.Ratio.CI, trueRatio)
	}
}

func TestBootstrapRejectsBadOptions(t *testing.T) {
	s := NewSample([]float64{1, 2, 3})
	if _, err := (Bootstrap{Resamples: 10}).Quantile(s, 0.5); err == nil {
		t.Error("10 resamples accepted, want an error")
	}
	if _, err := (Bootstrap{Level: 1.5}).Quantile(s, 0.5); err == nil {
		t.Error("level 1.5 accepted, want an error")
	}
	if _, err := (Bootstrap{}).Quantile(NewSample(nil), 0.5); err == nil {
		t.Error("empty sample accepted, want an error")
	}
	if _, err := (Bootstrap{}).Compare(s, NewSample(nil), 0.5); err == nil {
		t.Error("compare with an empty sample accepted, want an error")
	}
}
