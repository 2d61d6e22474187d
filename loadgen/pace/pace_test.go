package pace

import (
	"math"
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
