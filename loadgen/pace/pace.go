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

// MinRate and MaxRate bound the rates (hits per second) a pacer accepts. Fractional
// rates are counted in hits per 1000 s, so a rate below MinRate would round to 0
// hits, which vegeta's pacers take as "no limit" (a flood); a rate above MaxRate
// leaves less than a nanosecond between hits.
const (
	MinRate = 0.001
	MaxRate = 1e9
)

// CheckRate returns an error naming what when r is not a rate a pacer can keep:
// not above 0, below MinRate (it would round to 0 hits) or above MaxRate.
func CheckRate(what string, r float64) error {
	switch {
	case math.IsNaN(r) || r <= 0:
		return fmt.Errorf("%s %v: must be above 0 hits per second (at least %g/s)", what, r, MinRate)
	case r < MinRate || constant(r).Freq < 1:
		return fmt.Errorf("%s %g/s is below the minimum of %g/s (one hit per 1000 s): it rounds to 0 hits, which vegeta takes as an unlimited rate", what, r, MinRate)
	case r > MaxRate:
		return fmt.Errorf("%s %g/s is above the maximum of %g/s", what, r, MaxRate)
	}
	return nil
}

// resolved returns spec with the defaults of its pacer filled in: the ramp's start,
// the sine's amplitude and period.
func (spec Spec) resolved() Spec {
	switch spec.Kind {
	case "ramp", "linear":
		if spec.From == 0 {
			spec.From = math.Max(1, spec.Rate/10)
		}
	case "sine":
		if spec.Amplitude == 0 {
			spec.Amplitude = spec.Rate / 2
		}
		if spec.Period <= 0 {
			spec.Period = spec.Duration
		}
	}
	return spec
}

// Scale returns the spec of one share of this attack, for a worker sending k of it
// (1/N for each of N workers): every rate (the constant rate, the ramp's start and
// end, the sine's mean and amplitude, each step) is multiplied by k. Defaults are
// resolved first, so the shares add up to the whole attack. The result is checked
// as New would check it.
func (spec Spec) Scale(k float64) (Spec, error) {
	if math.IsNaN(k) || k <= 0 || k > 1 {
		return Spec{}, fmt.Errorf("scale %v: want a share in (0, 1]", k)
	}
	out := spec.resolved()
	out.Rate *= k
	out.From *= k
	out.Amplitude *= k
	if out.Kind == "steps" {
		steps, err := ParseSteps(spec.Steps)
		if err != nil {
			return Spec{}, err
		}
		parts := make([]string, len(steps))
		for i, st := range steps {
			parts[i] = strconv.FormatFloat(st.Rate*k, 'f', -1, 64) + ":" + st.Duration.String()
		}
		out.Steps = strings.Join(parts, ",")
	}
	if _, err := New(out); err != nil {
		return Spec{}, err
	}
	return out, nil
}

// New returns the pacer that spec describes.
func New(spec Spec) (vegeta.Pacer, error) {
	if spec.Rate < 0 || math.IsNaN(spec.Rate) {
		return nil, fmt.Errorf("rate %v: must be >= 0 hits per second", spec.Rate)
	}
	switch spec.Kind {
	case "", "constant":
		if err := CheckRate("rate", spec.Rate); err != nil {
			return nil, err
		}
		return constant(spec.Rate), nil
	case "ramp", "linear":
		if err := CheckRate("ramp pacer: end rate", spec.Rate); err != nil {
			return nil, err
		}
		if spec.Duration <= 0 {
			return nil, fmt.Errorf("ramp pacer: needs a duration > 0 to ramp over")
		}
		if spec.From < 0 || math.IsNaN(spec.From) {
			return nil, fmt.Errorf("ramp pacer: start rate %v: must be above 0 (or 0 for a tenth of the end rate)", spec.From)
		}
		spec = spec.resolved()
		if err := CheckRate("ramp pacer: start rate", spec.From); err != nil {
			return nil, err
		}
		return vegeta.LinearPacer{
			StartAt: constant(spec.From),
			Slope:   (spec.Rate - spec.From) / spec.Duration.Seconds(),
		}, nil
	case "sine":
		if err := CheckRate("sine pacer: mean rate", spec.Rate); err != nil {
			return nil, err
		}
		if spec.Amplitude < 0 || math.IsNaN(spec.Amplitude) {
			return nil, fmt.Errorf("sine pacer: amplitude %v: must be above 0 (or 0 for half the mean rate)", spec.Amplitude)
		}
		spec = spec.resolved()
		mean, amp := constant(spec.Rate), constant(spec.Amplitude)
		// vegeta's SinePacer sends nothing at all unless Amp < Mean, compared after
		// rounding to whole hits per period of the ConstantPacers.
		if spec.Amplitude >= spec.Rate || amp.Rate(0) >= mean.Rate(0) {
			return nil, fmt.Errorf("sine pacer: amplitude %g/s must be below the mean rate %g/s (at or above it the rate would reach 0 or go negative)", spec.Amplitude, spec.Rate)
		}
		if spec.Period <= 0 {
			return nil, fmt.Errorf("sine pacer: needs a period (or a duration) > 0")
		}
		return vegeta.SinePacer{Period: spec.Period, Mean: mean, Amp: amp, StartAt: vegeta.MeanUp}, nil
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
	sends := false
	for _, part := range strings.Split(s, ",") {
		rate, dur, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("step %q: want rate:duration, e.g. 200:10s", part)
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(rate), 64)
		if err != nil || r < 0 || math.IsNaN(r) {
			return nil, fmt.Errorf("step %q: rate %q is not a number >= 0", part, rate)
		}
		// 0 is a pause (or, last, the end of the attack); any other rate must be
		// one the pacer can keep.
		if r != 0 {
			if err := CheckRate(fmt.Sprintf("step %q: rate", part), r); err != nil {
				return nil, err
			}
		}
		d, err := time.ParseDuration(dur)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("step %q: duration %q not understood; use e.g. 10s", part, dur)
		}
		out = append(out, Step{Rate: r, Duration: d})
		sends = sends || r > 0
	}
	if !sends {
		return nil, fmt.Errorf("steps pacer: every step of %q has rate 0: nothing would be sent", s)
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
