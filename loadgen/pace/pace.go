// Package pace builds the vegeta Pacers of a load attack: constant, linear ramp and
// sine (vegeta's own) and Steps (a staircase of rates), from options or from the
// command line's words.
package pace

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Step is one stair of a Steps pacer: Rate hits per second for Duration.
type Step struct {
	Rate     float64
	Duration time.Duration
}

// Steps paces an attack through a staircase of constant rates; after the last
// step it keeps the last rate. It implements vegeta.Pacer.
type Steps []Step

// hits returns how many hits Steps schedules in the first t of an attack.
func (s Steps) hits(t time.Duration) float64 {
	total := 0.0
	for i, st := range s {
		if t <= 0 {
			break
		}
		d := st.Duration
		if i == len(s)-1 || t < d {
			d = t
		}
		total += st.Rate * d.Seconds()
		t -= d
	}
	return total
}

// Rate returns the rate of the step running at elapsed.
func (s Steps) Rate(elapsed time.Duration) float64 {
	for i, st := range s {
		if elapsed < st.Duration || i == len(s)-1 {
			return st.Rate
		}
		elapsed -= st.Duration
	}
	return 0
}

// Pace returns how long to wait before the next hit, given the elapsed time and the
// hits sent so far. It stops when every remaining step has rate 0.
func (s Steps) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if len(s) == 0 {
		return 0, true
	}
	want := float64(hits + 1) // the time at which hits(t) reaches hits+1
	if s.hits(elapsed) >= want {
		return 0, false // behind: send now
	}
	// Walk the steps to find when cumulative hits reach want.
	t, acc := time.Duration(0), 0.0
	for i, st := range s {
		last := i == len(s)-1
		if st.Rate > 0 {
			need := want - acc
			d := time.Duration(need / st.Rate * float64(time.Second))
			if last || d <= st.Duration {
				at := t + d
				if at < elapsed {
					return 0, false
				}
				return at - elapsed, false
			}
		} else if last {
			return 0, true
		}
		acc += st.Rate * st.Duration.Seconds()
		t += st.Duration
	}
	return 0, true
}

// String describes the staircase, e.g. Steps{100/s for 10s, 200/s for 10s}.
func (s Steps) String() string {
	parts := make([]string, len(s))
	for i, st := range s {
		parts[i] = fmt.Sprintf("%g/s for %s", st.Rate, st.Duration)
	}
	return "Steps{" + strings.Join(parts, ", ") + "}"
}

// Spec describes a pacer in words, as the command line gives it.
type Spec struct {
	// Kind is constant, ramp, sine or steps.
	Kind string
	// Rate is the constant rate, the ramp's end rate, or the sine's mean (hits/s).
	Rate float64
	// Duration is the attack's duration (the ramp's length).
	Duration time.Duration
	// From is the ramp's start rate (default a tenth of Rate, at least 1/s).
	From float64
	// Amplitude and Period shape the sine (defaults Rate/2 and Duration).
	Amplitude float64
	Period    time.Duration
	// Steps is the staircase, "100:10s,200:10s,400:10s" (rate:duration,...).
	Steps string
}

// New returns the pacer that spec describes.
func New(spec Spec) (vegeta.Pacer, error) {
	if spec.Rate < 0 || math.IsNaN(spec.Rate) {
		return nil, fmt.Errorf("rate %v: must be >= 0 hits per second", spec.Rate)
	}
	switch spec.Kind {
	case "", "constant":
		return constant(spec.Rate), nil
	case "ramp", "linear":
		if spec.Duration <= 0 {
			return nil, fmt.Errorf("ramp pacer: needs a duration > 0 to ramp over")
		}
		from := spec.From
		if from <= 0 {
			from = math.Max(1, spec.Rate/10)
		}
		return vegeta.LinearPacer{
			StartAt: constant(from),
			Slope:   (spec.Rate - from) / spec.Duration.Seconds(),
		}, nil
	case "sine":
		amp, period := spec.Amplitude, spec.Period
		if amp == 0 {
			amp = spec.Rate / 2
		}
		if amp > spec.Rate {
			return nil, fmt.Errorf("sine pacer: amplitude %g exceeds the mean rate %g; the rate would go negative", amp, spec.Rate)
		}
		if period <= 0 {
			period = spec.Duration
		}
		if period <= 0 {
			return nil, fmt.Errorf("sine pacer: needs a period (or a duration) > 0")
		}
		return vegeta.SinePacer{Period: period, Mean: constant(spec.Rate), Amp: constant(amp), StartAt: vegeta.MeanUp}, nil
	case "steps":
		return ParseSteps(spec.Steps)
	}
	return nil, fmt.Errorf("pacer %q not understood: use constant, ramp, sine or steps", spec.Kind)
}

// constant returns a ConstantPacer of r hits/s, keeping fractional rates exact
// enough by counting hits per minute or hour when r is small.
func constant(r float64) vegeta.ConstantPacer {
	if r == math.Trunc(r) {
		return vegeta.ConstantPacer{Freq: int(r), Per: time.Second}
	}
	return vegeta.ConstantPacer{Freq: int(math.Round(r * 1000)), Per: 1000 * time.Second}
}

// ParseSteps parses "100:10s,200:10s,400:30s" (rate:duration pairs).
func ParseSteps(s string) (Steps, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("steps pacer: no steps given; use e.g. --steps 100:10s,200:10s")
	}
	var out Steps
	for _, part := range strings.Split(s, ",") {
		rate, dur, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("step %q: want rate:duration, e.g. 200:10s", part)
		}
		r, err := strconv.ParseFloat(rate, 64)
		if err != nil || r < 0 {
			return nil, fmt.Errorf("step %q: rate %q is not a number >= 0", part, rate)
		}
		d, err := time.ParseDuration(dur)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("step %q: duration %q not understood; use e.g. 10s", part, dur)
		}
		out = append(out, Step{Rate: r, Duration: d})
	}
	return out, nil
}

// Total returns how long a Steps staircase lasts.
func (s Steps) Total() time.Duration {
	var d time.Duration
	for _, st := range s {
		d += st.Duration
	}
	return d
}
