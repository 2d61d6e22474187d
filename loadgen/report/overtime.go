package report

import (
	"math"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// Over time, seconds are wall-clock seconds of the intended send time, so the
// first and last of an attack lie partly outside it: counting their requests as
// a full second's would plot them as dips. Each Tick's rates are therefore per
// second of its part inside the attack (Covered), and a tick with less than
// minCovered of its length inside is left out of charts and tables: a rate scaled
// up from so short a time is mostly noise.
const minCovered = 0.2

// maxPeriods bounds the rows of the text table over time.
const maxPeriods = 20

// partialNote is the caption's account of partial seconds.
const partialNote = "The first and last seconds lie partly outside the attack: their counts are divided by the part of the second inside it, and seconds less than 20% inside are left out."

// Tick is one second (or, in Report.Periods, one period of seconds) of the
// attack by intended send time, as the charts and tables show it.
type Tick struct {
	// At is when the tick begins (wall clock, UTC); Length how long it is.
	At     time.Time `json:"at"`
	Length float64   `json:"length"`
	// From and To bound the part of the tick inside the attack, in seconds since
	// its start; Covered is To - From. Rates below are per second of that part
	// (0 when Covered is 0).
	From    float64 `json:"from"`
	To      float64 `json:"to"`
	Covered float64 `json:"covered"`
	// Sent counts requests per second; Throughput successful ones (2xx/3xx
	// without error); Errors failed ones; Target what the pacer planned (0
	// without a schedule).
	Sent       float64 `json:"sent"`
	Throughput float64 `json:"throughput"`
	Errors     float64 `json:"errors"`
	Target     float64 `json:"target,omitempty"`
	// BytesOut and BytesIn are bytes sent and received per second.
	BytesOut float64 `json:"bytes_out"`
	BytesIn  float64 `json:"bytes_in"`
	// Codes are replies per second by HTTP status (0: no reply); ErrorKinds
	// failures per second by kind.
	Codes      map[uint16]float64 `json:"codes,omitempty"`
	ErrorKinds map[string]float64 `json:"error_kinds,omitempty"`
	// Latency, Intended and E2E summarize the tick's latencies: from the actual
	// send, from the intended send, and end to end (sampled events sent in it).
	Latency  record.Distribution `json:"latency"`
	Intended record.Distribution `json:"intended"`
	E2E      record.Distribution `json:"e2e"`
}

// Sliver reports whether less than minCovered of the tick lies inside the
// attack: its rates are left out of charts and tables.
func (t Tick) Sliver() bool { return t.Covered < minCovered*t.Length }

// Mid is the middle of the tick's part inside the attack, in seconds since its start.
func (t Tick) Mid() float64 { return (t.From + t.To) / 2 }

// ticks turns seconds (or periods of length) of an attack that began at start
// and ran for window into Ticks. A zero window counts every tick as whole.
func ticks(secs []record.Second, length time.Duration, start time.Time, window time.Duration) []Tick {
	out := make([]Tick, 0, len(secs))
	if len(secs) == 0 {
		return out
	}
	if start.IsZero() {
		start = secs[0].At
	}
	end := start.Add(window)
	for _, s := range secs {
		lo, hi := s.At, s.At.Add(length)
		if window > 0 {
			if lo.Before(start) {
				lo = start
			}
			if hi.After(end) {
				hi = end
			}
			if hi.Before(lo) {
				hi = lo
			}
		}
		t := Tick{At: s.At, Length: length.Seconds(), From: lo.Sub(start).Seconds(), To: hi.Sub(start).Seconds(),
			Latency: s.Latency, Intended: s.Intended, E2E: s.E2E}
		t.Covered = t.To - t.From
		per := func(n uint64) float64 {
			if t.Covered <= 0 {
				return 0
			}
			return float64(n) / t.Covered
		}
		t.Sent, t.Errors, t.Throughput = per(s.Requests), per(s.Errors), per(s.Requests-min(s.Errors, s.Requests))
		t.Target, t.BytesOut, t.BytesIn = per(s.Scheduled), per(s.BytesOut), per(s.BytesIn)
		if len(s.Codes) > 0 {
			t.Codes = make(map[uint16]float64, len(s.Codes))
			for c, n := range s.Codes {
				t.Codes[c] = per(n)
			}
		}
		if len(s.ErrorKinds) > 0 {
			t.ErrorKinds = make(map[string]float64, len(s.ErrorKinds))
			for k, n := range s.ErrorKinds {
				t.ErrorKinds[k] = per(n)
			}
		}
		out = append(out, t)
	}
	return out
}

// periodLength is how many seconds each row of the text table spans so that a
// timeline of secs seconds fits in maxPeriods rows.
func periodLength(secs []record.Second) int {
	if len(secs) == 0 {
		return 1
	}
	span := int(secs[len(secs)-1].At.Sub(secs[0].At)/time.Second) + 1
	return max(1, int(math.Ceil(float64(span)/maxPeriods)))
}
