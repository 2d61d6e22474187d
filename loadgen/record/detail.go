package record

import (
	"fmt"
	"math"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// secondExtra is what a second holds beyond its request and error counts and
// latencies: status codes, error kinds, bytes, the pacer's plan and the
// end-to-end latencies of sampled events sent in it. Guarded by Recorder.mu.
type secondExtra struct {
	codes             map[uint16]uint64
	errs              map[string]uint64
	bytesIn, bytesOut uint64
	scheduled         uint64
	e2e               *hdr.Histogram // nil until an event sent in the second is found
}

// addDetail records the per-second details of one result in s. r.mu is held, and
// Add has already counted the result's error text in r.errors.
func (r *Recorder) addDetail(s *second, res *vegeta.Result, failed bool) {
	if s.codes == nil {
		s.codes = make(map[uint16]uint64)
	}
	s.codes[res.Code]++
	if failed {
		msg := errorKind(res.Method, res.Error)
		if msg == "" {
			msg = fmt.Sprintf("status %d", res.Code)
		}
		if s.errs == nil {
			s.errs = make(map[string]uint64)
		}
		s.errs[r.errorKey(msg)]++
	}
	s.bytesIn += res.BytesIn
	s.bytesOut += res.BytesOut
}

// errorKey is the name r.errors counts msg under: msg itself, or otherErrors once
// maxErrorKinds texts are kept. r.mu is held.
func (r *Recorder) errorKey(msg string) string {
	if _, ok := r.errors[msg]; ok {
		return msg
	}
	return otherErrors
}

// add adds o's details into e; error kinds go through key (see errorKey).
func (e *secondExtra) add(o *secondExtra, key func(string) string) {
	for c, n := range o.codes {
		if e.codes == nil {
			e.codes = make(map[uint16]uint64)
		}
		e.codes[c] += n
	}
	for msg, n := range o.errs {
		if e.errs == nil {
			e.errs = make(map[string]uint64)
		}
		e.errs[key(msg)] += n
	}
	e.bytesIn += o.bytesIn
	e.bytesOut += o.bytesOut
	e.scheduled += o.scheduled
	if o.e2e != nil {
		if e.e2e == nil {
			e.e2e = newHist(SecondSigFigs)
		}
		e.e2e.Merge(o.e2e)
	}
}

// fill copies the details into out.
func (e *secondExtra) fill(out Second) Second {
	if len(e.codes) > 0 {
		out.Codes = make(map[uint16]uint64, len(e.codes))
		for c, n := range e.codes {
			out.Codes[c] = n
		}
	}
	if len(e.errs) > 0 {
		out.ErrorKinds = make(map[string]uint64, len(e.errs))
		for msg, n := range e.errs {
			out.ErrorKinds[msg] = n
		}
	}
	out.BytesIn, out.BytesOut, out.Scheduled = e.bytesIn, e.bytesOut, e.scheduled
	if e.e2e != nil {
		out.E2E = distribution(e.e2e)
	}
	return out
}

// AddE2EAt records the end-to-end ingestion latency of one sampled event sent at
// sent: as AddE2E does, and in the second of sent, for the timeline's Second.E2E.
func (r *Recorder) AddE2EAt(sent time.Time, d time.Duration) {
	v, c := micros(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if c {
		r.clamped++
	}
	_ = r.e2e.RecordValue(v)
	s := r.secondOf(sent.Unix())
	if s.e2e == nil {
		s.e2e = newHist(SecondSigFigs)
	}
	_ = s.e2e.RecordValue(v)
}

// secondOf returns the second with key k, creating it. r.mu is held.
func (r *Recorder) secondOf(k int64) *second {
	s := r.seconds[k]
	if s == nil {
		s = newSecond()
		r.seconds[k] = s
	}
	return s
}

// scheduleSeconds records how many hits sched plans in each second of the window
// from start (Second.Scheduled), so the timeline shows the target rate.
func (r *Recorder) scheduleSeconds(sched *Schedule, start time.Time, window time.Duration) {
	plan := sched.perSecond(start, window)
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range plan {
		r.secondOf(k).scheduled = n
	}
}

// perSecond counts the hits scheduled within the first window of an attack begun
// at start, by the second (Unix) they are due in. It replays the whole schedule
// once, as Count does from its checkpoints.
func (s *Schedule) perSecond(start time.Time, window time.Duration) map[int64]uint64 {
	out := make(map[int64]uint64)
	var clock time.Duration
	key, count := int64(math.MinInt64), uint64(0)
	stall := 0
	for n := uint64(0); ; n++ {
		c, ok := s.step(clock, n)
		if ok && n > 0 && c == clock {
			stall++
		} else {
			stall = 0
		}
		if !ok || c > window || stall > maxStall {
			break
		}
		clock = c
		if k := start.Add(c).Unix(); k != key {
			if count > 0 {
				out[key] += count
			}
			key, count = k, 0
		}
		count++
	}
	if count > 0 {
		out[key] += count
	}
	return out
}

// mergeDetails adds the per-second details of o into r's seconds, which Merge has
// already created. Both locks are held, and r.errors holds o's error texts.
func (r *Recorder) mergeDetails(o *Recorder) {
	for k, s := range o.seconds {
		r.secondOf(k).secondExtra.add(&s.secondExtra, r.errorKey)
	}
	r.mergeGroups(o)
}

// TimelineBy returns the timeline in periods of n seconds: each Second then
// stands for the n seconds from its At, counted from the first recorded second.
// TimelineBy(1) is Timeline.
func (r *Recorder) TimelineBy(n int) []Second {
	if n <= 1 {
		return r.Timeline()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seconds) == 0 {
		return []Second{}
	}
	first := int64(math.MaxInt64)
	for k := range r.seconds {
		first = min(first, k)
	}
	periods := make(map[int64]*second)
	same := func(msg string) string { return msg }
	for k, s := range r.seconds {
		pk := first + (k-first)/int64(n)*int64(n)
		p := periods[pk]
		if p == nil {
			p = newSecond()
			periods[pk] = p
		}
		p.requests += s.requests
		p.errors += s.errors
		p.latency.Merge(s.latency)
		p.intended.Merge(s.intended)
		p.secondExtra.add(&s.secondExtra, same)
	}
	out := make([]Second, 0, len(periods))
	for k, p := range periods {
		out = append(out, toSecond(k, p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// BucketsPerDecade is how many buckets Histogram splits each factor of ten of
// latency into.
const BucketsPerDecade = 10

// Bucket is one bar of a latency histogram: how many latencies fell in [Low, High).
type Bucket struct {
	Low  time.Duration `json:"low"`
	High time.Duration `json:"high"`
	// Latency counts vegeta's latencies (from the actual send), Intended those from
	// the intended send.
	Latency  uint64 `json:"latency"`
	Intended uint64 `json:"intended"`
}

// bucketEdge is the lower edge of log bucket i.
func bucketEdge(i int) time.Duration {
	return time.Duration(math.Round(math.Pow(10, float64(i)/BucketsPerDecade) * float64(time.Microsecond)))
}

// bucketOf is the log bucket of v microseconds (v >= 1).
func bucketOf(v int64) int {
	return int(math.Floor(math.Log10(float64(max(v, 1)))*BucketsPerDecade + 1e-9))
}

// Histogram returns the whole run's latencies in log-scale buckets
// (BucketsPerDecade per factor of ten), from the lowest non-empty bucket to the
// highest, empty ones between included. It is empty before the first result.
func (r *Recorder) Histogram() []Bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := make(map[int]*Bucket)
	lo, hi := math.MaxInt, math.MinInt
	for _, m := range []struct {
		h   *hdr.Histogram
		add func(b *Bucket, n uint64)
	}{
		{r.latency, func(b *Bucket, n uint64) { b.Latency += n }},
		{r.intended, func(b *Bucket, n uint64) { b.Intended += n }},
	} {
		for _, bar := range m.h.Distribution() {
			if bar.Count <= 0 {
				continue
			}
			i := bucketOf(bar.From)
			b := counts[i]
			if b == nil {
				b = &Bucket{}
				counts[i] = b
			}
			m.add(b, uint64(bar.Count))
			lo, hi = min(lo, i), max(hi, i)
		}
	}
	out := []Bucket{}
	for i := lo; i <= hi; i++ {
		b := Bucket{Low: bucketEdge(i), High: bucketEdge(i + 1)}
		if c := counts[i]; c != nil {
			b.Latency, b.Intended = c.Latency, c.Intended
		}
		out = append(out, b)
	}
	return out
}
