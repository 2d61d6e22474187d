// Package record keeps the results of a load attack: every vegeta.Result's latency as
// vegeta measured it (from the actual send) and from the intended send time (the
// pacer's schedule), so coordinated omission — a stalled server silently slowing the
// attacker down — shows in the numbers. Latencies go to HDR histograms (1 µs..60 s,
// 3 significant digits) with per-second buckets for latency over time, plus status
// codes, errors, bytes, and the end-to-end ingestion latencies of sampled events.
//
// A Recorder is safe for concurrent use, and recorders of distributed workers merge:
// each serializes to JSON (MarshalJSON) and Merge adds one into another.
package record

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Histogram ranges: latencies are recorded in microseconds from 1 µs to 60 s.
const (
	// MinLatency is the smallest latency told apart; smaller ones record as 1 µs.
	MinLatency = time.Microsecond
	// MaxLatency is the largest latency tracked; larger ones record as MaxLatency
	// and are counted in Summary.Clamped.
	MaxLatency = 60 * time.Second
	// SigFigs is the precision of the whole-run histograms.
	SigFigs = 3
	// SecondSigFigs is the precision of the per-second histograms (1% is enough for
	// a time series and keeps long runs small).
	SecondSigFigs = 2
	// DefaultLateAfter is how late a send may be before it counts as late.
	DefaultLateAfter = 10 * time.Millisecond
	// maxErrorKinds bounds the distinct error texts kept; the rest count as otherErrors.
	maxErrorKinds = 100
	otherErrors   = "(other errors)"
)

// Metric names one of the recorded latency distributions.
type Metric string

// The recorded latency distributions.
const (
	// Latency is vegeta's own latency: from the actual send to the end of the reply.
	Latency Metric = "latency"
	// Intended is the latency from the intended send time (the pacer's schedule) to
	// the end of the reply: what a user arriving on schedule would have waited. It
	// is never below Latency; the difference is time the attacker spent late.
	Intended Metric = "intended"
	// E2E is the end-to-end ingestion latency of sampled events: from send until
	// the event is queryable in ClickHouse.
	E2E Metric = "e2e"
)

// Options configures a Recorder. The zero value records vegeta's latency only.
type Options struct {
	// Start is when the attack began (the zero of the Schedule's offsets). Take it
	// with time.Now() right before vegeta.Attacker.Attack.
	Start time.Time
	// Schedule maps a result's Seq to its intended send offset; usually
	// NewSchedule(pacer). Nil: the intended time is the actual send time.
	Schedule Scheduler
	// LateAfter: a send this much later than intended counts as late
	// (default DefaultLateAfter).
	LateAfter time.Duration
	// Classify names the kind and encoding of a request from its method and URL
	// (usually traffic.Classify), for Breakdown. It must be safe for concurrent
	// use. Nil: no breakdown.
	Classify func(method, url string) (kind, encoding string)
}

// Recorder accumulates attack results. Create it with New; it is safe for
// concurrent use.
type Recorder struct {
	opts Options

	mu        sync.Mutex
	latency   *hdr.Histogram
	intended  *hdr.Histogram
	e2e       *hdr.Histogram
	seconds   map[int64]*second
	codes     map[uint16]uint64
	errors    map[string]uint64
	requests  uint64
	success   uint64
	late      uint64
	clamped   uint64
	bytesIn   uint64
	bytesOut  uint64
	first     time.Time // earliest actual send
	last      time.Time // latest actual send
	end       time.Time // latest reply
	e2eLost   uint64
	requested uint64
	// scheduledSeen is one past the highest Seq recorded: every hit vegeta sent
	// was scheduled, so the schedule's count is at least this.
	scheduledSeen uint64
	window        time.Duration
	finished      bool
	workers       int

	// more is the breakdown by kind and encoding (breakdown.go).
	more extra
}

type second struct {
	requests, errors uint64
	latency          *hdr.Histogram
	intended         *hdr.Histogram
	secondExtra      // codes, error kinds, bytes, plan, e2e (detail.go)
}

func newHist(sig int) *hdr.Histogram {
	return hdr.New(int64(MinLatency/time.Microsecond), int64(MaxLatency/time.Microsecond), sig)
}

func newSecond() *second {
	return &second{latency: newHist(SecondSigFigs), intended: newHist(SecondSigFigs)}
}

// New returns an empty Recorder.
func New(opts Options) *Recorder {
	if opts.LateAfter <= 0 {
		opts.LateAfter = DefaultLateAfter
	}
	return &Recorder{
		opts:     opts,
		latency:  newHist(SigFigs),
		intended: newHist(SigFigs),
		e2e:      newHist(SigFigs),
		seconds:  make(map[int64]*second),
		codes:    make(map[uint16]uint64),
		errors:   make(map[string]uint64),
		workers:  1,
	}
}

// IntendedTime returns when the hit with sequence number seq should have been sent,
// and false when the Recorder has no Start or Schedule to tell.
func (r *Recorder) IntendedTime(seq uint64) (time.Time, bool) {
	r.mu.Lock()
	start := r.opts.Start
	r.mu.Unlock()
	if r.opts.Schedule == nil || start.IsZero() {
		return time.Time{}, false
	}
	return start.Add(r.opts.Schedule.Offset(seq)), true
}

// StartAt sets when the attack began, the zero of the Schedule's offsets.
// loadgen.Run calls it from the attack's first tick (vegeta's own start), so
// that intended send times carry no start-up offset; call it before the first Add.
func (r *Recorder) StartAt(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Start = t
}

// micros converts d to histogram units, clamped to the tracked range.
func micros(d time.Duration) (int64, bool) {
	us := int64(d / time.Microsecond)
	switch {
	case us < 1:
		return 1, false
	case d > MaxLatency:
		return int64(MaxLatency / time.Microsecond), true
	}
	return us, false
}

// IntendedLatency is res's latency from its intended send time (at least its
// latency from the actual send), as Add records it.
func (r *Recorder) IntendedLatency(res *vegeta.Result) time.Duration {
	_, _, _, intended := r.times(res)
	return intended
}

// times returns when res was sent, when its reply ended, when it was meant
// to be sent, and its latency from then (at least its latency from the send).
func (r *Recorder) times(res *vegeta.Result) (sent, end, intendedAt time.Time, intended time.Duration) {
	sent = res.Timestamp
	end = sent.Add(res.Latency)
	intendedAt = sent
	if t, ok := r.IntendedTime(res.Seq); ok {
		intendedAt = t
	}
	return sent, end, intendedAt, max(end.Sub(intendedAt), res.Latency)
}

// Add records one result.
func (r *Recorder) Add(res *vegeta.Result) {
	sent, end, intendedAt, intended := r.times(res)
	lat, c1 := micros(res.Latency)
	itd, c2 := micros(intended)
	cls := r.classify(res)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.scheduledSeen = max(r.scheduledSeen, res.Seq+1)
	if c1 || c2 {
		r.clamped++
	}
	_ = r.latency.RecordValue(lat)
	_ = r.intended.RecordValue(itd)
	if sent.Sub(intendedAt) > r.opts.LateAfter {
		r.late++
	}
	r.codes[res.Code]++
	failed := res.Error != "" || res.Code < 200 || res.Code >= 400
	if failed {
		msg := errorKind(res.Method, res.Error)
		if msg == "" {
			msg = fmt.Sprintf("status %d", res.Code)
		}
		if _, ok := r.errors[msg]; !ok && len(r.errors) >= maxErrorKinds {
			msg = otherErrors
		}
		r.errors[msg]++
	} else {
		r.success++
	}
	r.bytesIn += res.BytesIn
	r.bytesOut += res.BytesOut
	if r.first.IsZero() || sent.Before(r.first) {
		r.first = sent
	}
	if sent.After(r.last) {
		r.last = sent
	}
	if end.After(r.end) {
		r.end = end
	}
	key := intendedAt.Unix()
	s := r.seconds[key]
	if s == nil {
		s = newSecond()
		r.seconds[key] = s
	}
	s.requests++
	if failed {
		s.errors++
	}
	_ = s.latency.RecordValue(lat)
	_ = s.intended.RecordValue(itd)
	r.addDetail(s, res, failed)
	r.addGroup(cls, res, failed, lat, itd)
}

// AddE2E records the end-to-end ingestion latency of one sampled event.
func (r *Recorder) AddE2E(d time.Duration) {
	v, c := micros(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if c {
		r.clamped++
	}
	_ = r.e2e.RecordValue(v)
}

// AddE2ELost counts sampled events that never became queryable in time.
func (r *Recorder) AddE2ELost(n uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.e2eLost += n
}

// Finish closes the attack at end (when it stopped, early or not): the window for
// rates becomes end - Start, and the scheduled hit count within it (when there is
// a Schedule) becomes Summary.Requested. Call it once, after the last Add.
func (r *Recorder) Finish(end time.Time) {
	r.mu.Lock()
	start := r.opts.Start
	if start.IsZero() {
		start = r.first
	}
	r.mu.Unlock()
	window := end.Sub(start)
	if window < 0 {
		window = 0
	}
	var requested uint64
	sched, hasSched := r.opts.Schedule.(*Schedule)
	if hasSched && sched != nil {
		requested = sched.Count(window)
		r.scheduleSeconds(sched, start, window)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !hasSched || sched == nil {
		requested = r.requests
	}
	// A hit sent right at the stop may fall a hair past the window: what was
	// sent was scheduled, so the count never exceeds the schedule.
	requested = max(requested, r.scheduledSeen)
	r.window, r.requested, r.finished = window, requested, true
}

// Distribution summarizes one latency histogram.
type Distribution struct {
	Count uint64        `json:"count"`
	Min   time.Duration `json:"min"`
	Mean  time.Duration `json:"mean"`
	P50   time.Duration `json:"p50"`
	P90   time.Duration `json:"p90"`
	P95   time.Duration `json:"p95"`
	P99   time.Duration `json:"p99"`
	P999  time.Duration `json:"p999"`
	Max   time.Duration `json:"max"`
}

func us(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

func distribution(h *hdr.Histogram) Distribution {
	if h.TotalCount() == 0 {
		return Distribution{}
	}
	return Distribution{
		Count: uint64(h.TotalCount()),
		Min:   us(h.Min()),
		Mean:  time.Duration(h.Mean() * float64(time.Microsecond)),
		P50:   us(h.ValueAtQuantile(50)),
		P90:   us(h.ValueAtQuantile(90)),
		P95:   us(h.ValueAtQuantile(95)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		Max:   us(h.Max()),
	}
}

// ErrorCount is one error text and how often it occurred.
type ErrorCount struct {
	Error string `json:"error"`
	Count uint64 `json:"count"`
}

// Summary is what a Recorder holds, computed.
type Summary struct {
	// Start is when the attack began; Window how long it ran (see Finish).
	Start  time.Time     `json:"start"`
	Window time.Duration `json:"window"`
	// Workers is how many recorders were merged into this one (1 for a local run).
	Workers int `json:"workers"`
	// Requested is how many hits the pacer scheduled within Window; Requests how
	// many were sent; Shortfall the difference (hits that could not be sent at all).
	Requested uint64 `json:"requested"`
	Requests  uint64 `json:"requests"`
	Shortfall uint64 `json:"shortfall"`
	// Late counts sends more than Options.LateAfter behind their intended time.
	Late uint64 `json:"late"`
	// Success counts 2xx/3xx replies without error; Errors the rest.
	Success   uint64  `json:"success"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	// RequestedRate and Rate are scheduled and sent hits per second over Window;
	// Throughput is successful hits per second until the last reply.
	RequestedRate float64 `json:"requested_rate"`
	Rate          float64 `json:"rate"`
	Throughput    float64 `json:"throughput"`
	// Codes counts replies by HTTP status (0: no reply).
	Codes map[uint16]uint64 `json:"codes"`
	// TopErrors are the most frequent error texts, most frequent first.
	TopErrors []ErrorCount `json:"top_errors,omitempty"`
	BytesIn   uint64       `json:"bytes_in"`
	BytesOut  uint64       `json:"bytes_out"`
	// Latency is vegeta's latency (from the actual send); Intended from the
	// intended send (coordinated omission corrected).
	Latency  Distribution `json:"latency"`
	Intended Distribution `json:"intended"`
	// E2E is the ingestion latency of sampled events; E2ELost counts sampled events
	// never seen in ClickHouse.
	E2E     Distribution `json:"e2e"`
	E2ELost uint64       `json:"e2e_lost"`
	// Clamped counts latencies beyond MaxLatency, recorded as MaxLatency.
	Clamped uint64 `json:"clamped,omitempty"`
}

// Summary computes the current totals. Before Finish, Window runs to the last send.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summary{
		Start:     r.opts.Start,
		Window:    r.window,
		Workers:   r.workers,
		Requested: r.requested,
		Requests:  r.requests,
		Late:      r.late,
		Success:   r.success,
		Errors:    r.requests - r.success,
		Codes:     make(map[uint16]uint64, len(r.codes)),
		BytesIn:   r.bytesIn,
		BytesOut:  r.bytesOut,
		Latency:   distribution(r.latency),
		Intended:  distribution(r.intended),
		E2E:       distribution(r.e2e),
		E2ELost:   r.e2eLost,
		Clamped:   r.clamped,
	}
	if s.Start.IsZero() {
		s.Start = r.first
	}
	if !r.finished {
		s.Window = r.last.Sub(s.Start)
		s.Requested = r.requests
	}
	for c, n := range r.codes {
		s.Codes[c] = n
	}
	if s.Requested > s.Requests {
		s.Shortfall = s.Requested - s.Requests
	}
	if s.Requests > 0 {
		s.ErrorRate = float64(s.Errors) / float64(s.Requests)
	}
	if secs := s.Window.Seconds(); secs > 0 {
		s.RequestedRate = float64(s.Requested) / secs
		s.Rate = float64(s.Requests) / secs
	}
	if secs := r.end.Sub(s.Start).Seconds(); secs > 0 {
		s.Throughput = float64(s.Success) / secs
	}
	for msg, n := range r.errors {
		s.TopErrors = append(s.TopErrors, ErrorCount{Error: msg, Count: n})
	}
	sort.Slice(s.TopErrors, func(i, j int) bool {
		if s.TopErrors[i].Count != s.TopErrors[j].Count {
			return s.TopErrors[i].Count > s.TopErrors[j].Count
		}
		return s.TopErrors[i].Error < s.TopErrors[j].Error
	})
	if len(s.TopErrors) > 10 {
		s.TopErrors = s.TopErrors[:10]
	}
	return s
}

// Percentile returns the p-th percentile (0..100) of metric m, and false when m has
// no values or is unknown.
func (r *Recorder) Percentile(m Metric, p float64) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hist(m)
	if h == nil || h.TotalCount() == 0 || p < 0 || p > 100 || math.IsNaN(p) {
		return 0, false
	}
	return us(h.ValueAtQuantile(p)), true
}

func (r *Recorder) hist(m Metric) *hdr.Histogram {
	switch m {
	case Latency:
		return r.latency
	case Intended:
		return r.intended
	case E2E:
		return r.e2e
	}
	return nil
}

// Second is one second of the attack, by intended send time.
type Second struct {
	// At is the start of the second (Unix seconds, UTC).
	At       time.Time `json:"at"`
	Requests uint64    `json:"requests"`
	Errors   uint64    `json:"errors"`
	// Latency and Intended summarize the second's latencies (2 significant digits).
	Latency  Distribution `json:"latency"`
	Intended Distribution `json:"intended"`
	// Codes counts the second's replies by HTTP status (0: no reply); ErrorKinds
	// its failures by kind, named as in Summary.TopErrors.
	Codes      map[uint16]uint64 `json:"codes,omitempty"`
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`
	BytesIn    uint64            `json:"bytes_in"`
	BytesOut   uint64            `json:"bytes_out"`
	// Scheduled is how many hits the pacer planned in the second (set by Finish
	// when the Recorder has a Schedule; 0 otherwise).
	Scheduled uint64 `json:"scheduled,omitempty"`
	// E2E summarizes the end-to-end latencies of sampled events sent in the second
	// (see AddE2EAt).
	E2E Distribution `json:"e2e"`
}

// Timeline returns every second that had a hit scheduled or sent, in order.
func (r *Recorder) Timeline() []Second {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Second, 0, len(r.seconds))
	for k, s := range r.seconds {
		out = append(out, toSecond(k, s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// SecondAt returns the second containing t, and false when nothing was recorded in it.
func (r *Recorder) SecondAt(t time.Time) (Second, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := t.Unix()
	s, ok := r.seconds[k]
	if !ok {
		return Second{At: time.Unix(k, 0).UTC()}, false
	}
	return toSecond(k, s), true
}

func toSecond(k int64, s *second) Second {
	return s.fill(Second{
		At:       time.Unix(k, 0).UTC(),
		Requests: s.requests,
		Errors:   s.errors,
		Latency:  distribution(s.latency),
		Intended: distribution(s.intended),
	})
}

// Merge adds everything o recorded into r, as if r had recorded it too: the
// histograms, counts and per-second buckets add up, the window is the longest, the
// start the earliest. Use it to combine distributed workers' recorders.
func (r *Recorder) Merge(o *Recorder) error {
	if o == r {
		return fmt.Errorf("merge a recorder into itself: merge a copy (Clone) instead")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.requests == 0 && r.e2e.TotalCount() == 0 && !r.finished
	for _, pair := range [][2]*hdr.Histogram{{r.latency, o.latency}, {r.intended, o.intended}, {r.e2e, o.e2e}} {
		if dropped := pair[0].Merge(pair[1]); dropped > 0 {
			return fmt.Errorf("merge histograms: %d values out of range (recorders of different shakedown versions?)", dropped)
		}
	}
	for k, s := range o.seconds {
		mine := r.seconds[k]
		if mine == nil {
			mine = newSecond()
			r.seconds[k] = mine
		}
		mine.requests += s.requests
		mine.errors += s.errors
		mine.latency.Merge(s.latency)
		mine.intended.Merge(s.intended)
	}
	for c, n := range o.codes {
		r.codes[c] += n
	}
	for msg, n := range o.errors {
		if _, ok := r.errors[msg]; !ok && len(r.errors) >= maxErrorKinds {
			msg = otherErrors
		}
		r.errors[msg] += n
	}
	r.mergeDetails(o)
	r.requests += o.requests
	r.success += o.success
	r.late += o.late
	r.clamped += o.clamped
	r.bytesIn += o.bytesIn
	r.bytesOut += o.bytesOut
	r.e2eLost += o.e2eLost
	r.requested += o.requested
	if first {
		r.workers = o.workers
	} else {
		r.workers += o.workers
	}
	if !o.first.IsZero() && (r.first.IsZero() || o.first.Before(r.first)) {
		r.first = o.first
	}
	if o.last.After(r.last) {
		r.last = o.last
	}
	if o.end.After(r.end) {
		r.end = o.end
	}
	if !o.opts.Start.IsZero() && (r.opts.Start.IsZero() || o.opts.Start.Before(r.opts.Start)) {
		r.opts.Start = o.opts.Start
	}
	if o.window > r.window {
		r.window = o.window
	}
	r.finished = r.finished || o.finished
	return nil
}

// errorKind folds an error text into its kind: Go's transport errors quote the whole
// request URL (`Post "http://host/e/?_=1796…": dial tcp …`), and cache-busting query
// strings would make every failure a kind of its own. The URL becomes its path.
func errorKind(method, msg string) string {
	open := strings.Index(msg, `"`)
	if open < 0 {
		return msg
	}
	end := strings.Index(msg[open+1:], `"`)
	if end < 0 {
		return msg
	}
	raw := msg[open+1 : open+1+end]
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return msg
	}
	if method == "" {
		method = strings.ToUpper(strings.TrimSpace(msg[:open]))
	}
	return strings.TrimSpace(method + " " + u.Path + msg[open+1+end+1:])
}
