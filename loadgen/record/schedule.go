package record

import (
	"sort"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Scheduler gives the intended send time of each hit of an attack, as an offset from
// the attack's start. Hit seq is the vegeta.Result.Seq of the result.
type Scheduler interface {
	// Offset returns when hit seq should have been sent, counted from the start.
	Offset(seq uint64) time.Duration
}

const (
	checkpointEvery = 1024    // hits between stored checkpoints of the simulated clock
	ringSize        = 1 << 16 // recent offsets kept for out-of-order results
	// maxStall bounds the hits a pacer may schedule at one instant. A pacer that
	// keeps answering "send now" without the clock moving (a vegeta ConstantPacer
	// of Freq 0, its "unlimited rate") would otherwise never let Count or Offset
	// reach the end of the window; past maxStall such hits the pacer is taken as
	// stopped there.
	maxStall = 1 << 16
)

// Schedule is the ideal timetable of a vegeta.Pacer: the time hit n would be sent by
// an attacker that is never late. It replays vegeta's own attack loop (wait :=
// Pace(elapsed, n); sleep; send) on a simulated clock, so it works for any Pacer,
// including the ones in this module. Offsets are computed on demand, remembered for
// recent hits and re-derived from checkpoints for older ones, so memory stays small
// on long attacks. It is safe for concurrent use.
type Schedule struct {
	pacer vegeta.Pacer

	mu      sync.Mutex
	next    uint64          // first hit whose offset has not been computed
	clock   time.Duration   // offset of hit next-1 (0 before the first)
	stopped bool            // the pacer stopped before hit next
	stall   int             // hits in a row scheduled at clock without it moving
	cps     []time.Duration // cps[k] = clock before hit k*checkpointEvery
	ring    [ringSize]time.Duration
	ringSeq [ringSize]uint64 // seq+1 stored in each ring slot (0 = empty)
}

// NewSchedule returns the ideal timetable of p.
func NewSchedule(p vegeta.Pacer) *Schedule {
	return &Schedule{pacer: p, cps: []time.Duration{0}}
}

// step advances a simulated clock past hit n: the offset hit n is sent at.
func (s *Schedule) step(clock time.Duration, n uint64) (time.Duration, bool) {
	wait, stop := s.pacer.Pace(clock, n)
	if stop {
		return clock, false
	}
	if wait > 0 {
		clock += wait
	}
	return clock, true
}

// Offset returns when hit seq should have been sent. For hits past the point where
// the pacer stops, it returns the last offset the pacer produced.
func (s *Schedule) Offset(seq uint64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := seq % ringSize
	if s.ringSeq[slot] == seq+1 {
		return s.ring[slot]
	}
	if seq >= s.next {
		for s.next <= seq && !s.stopped {
			if s.next%checkpointEvery == 0 && uint64(len(s.cps)) == s.next/checkpointEvery {
				s.cps = append(s.cps, s.clock)
			}
			c, ok := s.step(s.clock, s.next)
			if ok && s.next > 0 && c == s.clock {
				s.stall++
			} else {
				s.stall = 0
			}
			if !ok || s.stall > maxStall {
				s.stopped = true
				break
			}
			s.clock = c
			i := s.next % ringSize
			s.ring[i], s.ringSeq[i] = c, s.next+1
			s.next++
		}
		if seq >= s.next {
			return s.clock
		}
		return s.ring[slot]
	}
	// An old hit: replay from the checkpoint before it.
	k := seq / checkpointEvery
	clock := s.cps[k]
	for n := k * checkpointEvery; n <= seq; n++ {
		c, ok := s.step(clock, n)
		if !ok {
			break
		}
		clock = c
	}
	return clock
}

// Count returns how many hits the pacer schedules within the first window of an
// attack: what an attacker that is never late would have sent.
func (s *Schedule) Count(window time.Duration) uint64 {
	s.mu.Lock()
	// Start from the last checkpoint at or before window.
	k := sort.Search(len(s.cps), func(i int) bool { return s.cps[i] > window }) - 1
	if k < 0 {
		k = 0
	}
	clock := s.cps[k]
	s.mu.Unlock()
	n := uint64(k) * checkpointEvery
	stall := 0
	for {
		c, ok := s.step(clock, n)
		if ok && n > 0 && c == clock {
			stall++
		} else {
			stall = 0
		}
		if !ok || c > window || stall > maxStall {
			return n
		}
		clock = c
		n++
	}
}
