package record

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestScheduleMatchesPacerAndOldOffsetsReplay(t *testing.T) {
	p := vegeta.ConstantPacer{Freq: 1000, Per: time.Second}
	s := NewSchedule(p)
	// vegeta sends hit n at (n+1)*interval on a perfect clock.
	for _, n := range []uint64{0, 1, 999, 70_000, 5, 150_000, 3} {
		if got, want := s.Offset(n), time.Duration(n+1)*time.Millisecond; got != want {
			t.Errorf("Offset(%d) = %s, want %s", n, got, want)
		}
	}
	if got := s.Count(10 * time.Second); got != 10_000 {
		t.Errorf("Count(10s) = %d, want 10000", got)
	}
	if got := NewSchedule(vegeta.ConstantPacer{Freq: 3, Per: time.Second}).Count(2 * time.Second); got != 6 {
		t.Errorf("Count(2s) at 3/s = %d, want 6", got)
	}
}

func TestIntendedLatencyCountsTimeSpentLate(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	p := vegeta.ConstantPacer{Freq: 10, Per: time.Second} // hit n due at (n+1)*100ms
	r := New(Options{Start: start, Schedule: NewSchedule(p)})
	// Hit 0 on time, 20 ms; hit 1 sent 500 ms late, 20 ms.
	r.Add(&vegeta.Result{Seq: 0, Code: 200, Timestamp: start.Add(100 * time.Millisecond), Latency: 20 * time.Millisecond})
	r.Add(&vegeta.Result{Seq: 1, Code: 200, Timestamp: start.Add(700 * time.Millisecond), Latency: 20 * time.Millisecond})
	r.Finish(start.Add(time.Second))
	s := r.Summary()
	if s.Latency.Max < 20*time.Millisecond || s.Latency.Max > 20100*time.Microsecond {
		t.Errorf("vegeta max %s, want 20ms", s.Latency.Max)
	}
	if s.Intended.Max < 519*time.Millisecond || s.Intended.Max > 521*time.Millisecond {
		t.Errorf("intended max %s, want 520ms", s.Intended.Max)
	}
	if s.Late != 1 || s.Requested != 10 || s.Shortfall != 8 || s.Rate != 2 || s.RequestedRate != 10 {
		t.Errorf("late %d requested %d shortfall %d rate %v/%v", s.Late, s.Requested, s.Shortfall, s.Rate, s.RequestedRate)
	}
}

func fill(start time.Time, n int, code uint16, lat time.Duration) *Recorder {
	r := New(Options{Start: start})
	for i := 0; i < n; i++ {
		r.Add(&vegeta.Result{Seq: uint64(i), Code: code, Timestamp: start.Add(time.Duration(i) * 10 * time.Millisecond), Latency: lat, BytesOut: 100})
		r.AddE2E(lat * 10)
	}
	r.Finish(start.Add(time.Duration(n) * 10 * time.Millisecond))
	return r
}

func TestMergeOfSerializedWorkers(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	a := fill(start, 300, 200, 10*time.Millisecond)
	b := fill(start.Add(5*time.Millisecond), 100, 503, 100*time.Millisecond)
	total := New(Options{})
	for _, w := range []*Recorder{a, b} {
		line, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(line)
		if err != nil {
			t.Fatal(err)
		}
		if err := total.Merge(back); err != nil {
			t.Fatal(err)
		}
	}
	s := total.Summary()
	if s.Workers != 2 || s.Requests != 400 || s.Success != 300 || s.Errors != 100 || s.Codes[503] != 100 || s.BytesOut != 40_000 {
		t.Fatalf("merged summary: %+v", s)
	}
	if s.Latency.P50/time.Millisecond != 10 || s.Latency.Max < 99*time.Millisecond || s.E2E.Count != 400 {
		t.Errorf("merged latencies: %+v e2e %+v", s.Latency, s.E2E)
	}
	if s.Window != 3*time.Second || s.Requested != 400 || s.Rate < 133 || s.Rate > 134 {
		t.Errorf("window %s requested %d rate %v", s.Window, s.Requested, s.Rate)
	}
	tl := total.Timeline()
	var sum uint64
	for _, sec := range tl {
		sum += sec.Requests
	}
	if len(tl) != 3 || sum != 400 || tl[0].Errors != 100 {
		t.Errorf("timeline %d seconds, %d requests, first %+v", len(tl), sum, tl[0])
	}
	if err := total.Merge(total); err == nil {
		t.Error("merging a recorder into itself should fail")
	}
}

func TestConcurrentAdds(t *testing.T) {
	start := time.Now()
	r := New(Options{Start: start, Schedule: NewSchedule(vegeta.ConstantPacer{Freq: 1000, Per: time.Second})})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				seq := uint64(w*1000 + i)
				r.Add(&vegeta.Result{Seq: seq, Code: 200, Timestamp: start.Add(time.Duration(seq) * time.Millisecond), Latency: time.Millisecond})
				_ = r.Summary
			}
		}()
	}
	wg.Wait()
	if s := r.Summary(); s.Requests != 4000 || s.Success != 4000 {
		t.Errorf("after concurrent adds: %+v", s)
	}
}

func BenchmarkAdd(b *testing.B) {
	start := time.Now()
	r := New(Options{Start: start, Schedule: NewSchedule(vegeta.ConstantPacer{Freq: 30000, Per: time.Second})})
	var seq uint64
	for b.Loop() {
		r.Add(&vegeta.Result{Seq: seq, Code: 200, Timestamp: start.Add(time.Duration(seq) * 33 * time.Microsecond), Latency: time.Millisecond})
		seq++
	}
}

// A pacer that answers "send now" forever without its clock moving (a vegeta
// ConstantPacer of Freq 0, its unlimited rate) must not hang Count or Offset.
func TestScheduleEndsOnAPacerThatNeverAdvances(t *testing.T) {
	done := make(chan [3]uint64, 1)
	go func() {
		s := NewSchedule(vegeta.ConstantPacer{Freq: 0, Per: time.Second})
		c := s.Count(time.Second)
		o := s.Offset(5 * ringSize)
		c2 := NewSchedule(vegeta.LinearPacer{StartAt: vegeta.ConstantPacer{Freq: 0, Per: time.Second}, Slope: 1}).Count(time.Second)
		done <- [3]uint64{c, uint64(o), c2}
	}()
	select {
	case got := <-done:
		if got[0] == 0 || got[0] > 1<<20 || got[1] != 0 || got[2] > 1<<20 {
			t.Errorf("Count, Offset, Count of a stalled pacer = %v", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Count or Offset of a pacer that never advances did not return")
	}
	// Bursts below the bound are still counted: 1000 hits at each whole second.
	if got := NewSchedule(burstPacer{}).Count(3 * time.Second); got != 3000 {
		t.Errorf("Count(3s) of a 1000-hit burst each second = %d, want 3000", got)
	}
}

// burstPacer sends 1000 hits at once at each whole second.
type burstPacer struct{}

func (burstPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	next := time.Duration(hits/1000+1) * time.Second
	if elapsed >= next {
		return 0, false
	}
	return next - elapsed, false
}

func (burstPacer) Rate(time.Duration) float64 { return 1000 }

func TestTransportErrorsGroupByKindNotByURL(t *testing.T) {
	got := errorKind("POST", `Post "http://127.0.0.1:1/e/?_=1796027917241&compression=gzip-js": dial tcp 0.0.0.0:0->127.0.0.1:1: connect: connection refused`)
	want := "POST /e/: dial tcp 0.0.0.0:0->127.0.0.1:1: connect: connection refused"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := errorKind("GET", "context deadline exceeded"); got != "context deadline exceeded" {
		t.Fatalf("an error without a URL must stay as it is, got %q", got)
	}
	if a, b := errorKind("POST", `Post "http://h/e/?_=1": EOF`), errorKind("POST", `Post "http://h/e/?_=2": EOF`); a != b {
		t.Fatalf("the same failure on two cache-busted URLs must be one kind: %q vs %q", a, b)
	}
}
