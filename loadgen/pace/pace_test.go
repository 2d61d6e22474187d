package pace

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// count replays a pacer on a perfect clock for d and counts the hits it schedules.
func count(t *testing.T, spec Spec, d time.Duration) uint64 {
	t.Helper()
	p, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return record.NewSchedule(p).Count(d)
}

func TestPacersScheduleTheirRates(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		d    time.Duration
		want float64
	}{
		{Spec{Kind: "constant", Rate: 100}, 10 * time.Second, 1000},
		{Spec{Kind: "ramp", Rate: 200, From: 100, Duration: 10 * time.Second}, 10 * time.Second, 1500},
		{Spec{Kind: "sine", Rate: 100, Amplitude: 50, Period: 10 * time.Second}, 10 * time.Second, 1000},
		{Spec{Kind: "steps", Steps: "100:2s,300:2s,0:1s,50:2s"}, 7 * time.Second, 200 + 600 + 100},
		{Spec{Kind: "steps", Steps: "10:1s,20:1s"}, 5 * time.Second, 10 + 4*20},
	} {
		got := float64(count(t, tc.spec, tc.d))
		if math.Abs(got-tc.want) > tc.want*0.01+1 {
			t.Errorf("%+v over %s: %v hits, want %v", tc.spec, tc.d, got, tc.want)
		}
	}
}

func TestStepsRateAndStop(t *testing.T) {
	s, err := ParseSteps("100:1s, 0:1s")
	if err != nil {
		t.Fatal(err)
	}
	if s.Rate(500*time.Millisecond) != 100 || s.Rate(1500*time.Millisecond) != 0 || s.Total() != 2*time.Second {
		t.Errorf("rates %v %v total %v", s.Rate(500*time.Millisecond), s.Rate(1500*time.Millisecond), s.Total())
	}
	if _, stop := s.Pace(1500*time.Millisecond, 100); !stop {
		t.Error("a trailing zero-rate step should stop the attack")
	}
}

func TestBadSpecs(t *testing.T) {
	for _, spec := range []Spec{
		{Kind: "zigzag", Rate: 1},
		{Kind: "ramp", Rate: 10},
		{Kind: "sine", Rate: 10, Amplitude: 20, Duration: time.Second},
		{Kind: "steps", Steps: "100"},
		{Kind: "steps", Steps: "x:1s"},
		{Kind: "steps", Steps: "10:soon"},
	} {
		if _, err := New(spec); err == nil {
			t.Errorf("New(%+v) accepted a bad spec", spec)
		}
	}
}

// vegeta's SinePacer sends nothing when Amp >= Mean: such a sine must be refused,
// not run as an attack of zero hits.
func TestSineAmplitudeMustBeBelowTheMean(t *testing.T) {
	for _, spec := range []Spec{
		{Kind: "sine", Rate: 10, Amplitude: 10, Period: time.Second},
		{Kind: "sine", Rate: 10, Amplitude: 11, Period: time.Second},
		{Kind: "sine", Rate: 10.0004, Amplitude: 10.0002, Period: time.Second}, // equal once rounded
		{Kind: "sine", Rate: 10, Amplitude: -1, Period: time.Second},
	} {
		_, err := New(spec)
		if err == nil || !strings.Contains(err.Error(), "amplitude") {
			t.Errorf("New(%+v) = %v, want an error about the amplitude", spec, err)
		}
	}
	if _, err := New(Spec{Kind: "sine", Rate: 10, Amplitude: 10, Period: time.Second}); err == nil || !strings.Contains(err.Error(), "must be below the mean rate") {
		t.Errorf("amplitude == mean: %v, want it to say the amplitude must be below the mean rate", err)
	}
	if got := count(t, Spec{Kind: "sine", Rate: 10, Amplitude: 9.9, Period: 10 * time.Second}, 10*time.Second); got < 95 || got > 105 {
		t.Errorf("sine 10±9.9/s over 10s scheduled %d hits, want about 100", got)
	}
}

// A rate of 0, or one rounding to 0 hits, gives a vegeta pacer of Freq 0: an
// unlimited rate that floods the target. Every such rate must be refused.
func TestRatesRoundingToNothingAreRefused(t *testing.T) {
	for _, spec := range []Spec{
		{Kind: "constant", Rate: 0},
		{Kind: "", Rate: 0},
		{Kind: "constant", Rate: 0.0004},
		{Kind: "constant", Rate: math.NaN()},
		{Kind: "constant", Rate: math.Inf(1)},
		{Kind: "constant", Rate: 2e9},
		{Kind: "ramp", Rate: 0, Duration: time.Second},
		{Kind: "ramp", Rate: 0.0001, Duration: time.Second, From: 1},
		{Kind: "ramp", Rate: 100, Duration: time.Second, From: 0.0001},
		{Kind: "ramp", Rate: 100, Duration: time.Second, From: -1},
		{Kind: "sine", Rate: 0, Period: time.Second},
		{Kind: "sine", Rate: 0.0004, Period: time.Second},
		{Kind: "steps", Steps: "0:1s"},
		{Kind: "steps", Steps: "0:1s,0:2s"},
		{Kind: "steps", Steps: "100:1s,0.0001:1s"},
		{Kind: "steps", Steps: "100:1s,NaN:1s"},
		{Kind: "steps", Steps: "100:1s,-5:1s"},
	} {
		if _, err := New(spec); err == nil {
			t.Errorf("New(%+v) accepted a rate that cannot be paced", spec)
		}
	}
	_, err := New(Spec{Kind: "constant", Rate: 0.0001})
	if err == nil || !strings.Contains(err.Error(), "minimum of 0.001/s") {
		t.Errorf("a rate below the minimum: %v, want it to name the minimum accepted", err)
	}
	_, err = New(Spec{Kind: "constant", Rate: 0})
	if err == nil || !strings.Contains(err.Error(), "at least 0.001/s") {
		t.Errorf("rate 0: %v, want it to name the minimum accepted", err)
	}
	// The minimum itself works: one hit per 1000 s. A zero step is still a pause.
	if got := count(t, Spec{Kind: "constant", Rate: MinRate}, 2500*time.Second); got != 2 {
		t.Errorf("%g/s over 2500s scheduled %d hits, want 2", MinRate, got)
	}
	if got := count(t, Spec{Kind: "steps", Steps: "0:1s,10:1s"}, 2*time.Second); got != 10 {
		t.Errorf("a pause then 10/s for 1s scheduled %d hits, want 10", got)
	}
}

// Scale gives one worker's share: every rate times k, defaults resolved first so
// the shares add up to the whole.
func TestScaleSharesEveryRate(t *testing.T) {
	for _, tc := range []struct {
		spec, want Spec
	}{
		{Spec{Kind: "constant", Rate: 100}, Spec{Kind: "constant", Rate: 25}},
		{Spec{Kind: "ramp", Rate: 20, Duration: 10 * time.Second}, Spec{Kind: "ramp", Rate: 5, From: 0.5, Duration: 10 * time.Second}},
		{Spec{Kind: "ramp", Rate: 400, From: 40, Duration: time.Minute}, Spec{Kind: "ramp", Rate: 100, From: 10, Duration: time.Minute}},
		{Spec{Kind: "sine", Rate: 100, Duration: time.Minute}, Spec{Kind: "sine", Rate: 25, Amplitude: 12.5, Period: time.Minute, Duration: time.Minute}},
		{Spec{Kind: "sine", Rate: 100, Amplitude: 20, Period: 10 * time.Second}, Spec{Kind: "sine", Rate: 25, Amplitude: 5, Period: 10 * time.Second}},
		{Spec{Kind: "steps", Rate: 100, Steps: "100:10s, 0:5s,2:1m30s"}, Spec{Kind: "steps", Rate: 25, Steps: "25:10s,0:5s,0.5:1m30s"}},
	} {
		got, err := tc.spec.Scale(0.25)
		if err != nil || got != tc.want {
			t.Errorf("%+v.Scale(1/4) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
	if _, err := (Spec{Kind: "constant", Rate: 1}).Scale(1e-4); err == nil {
		t.Error("a share below the minimum rate was accepted")
	}
}
