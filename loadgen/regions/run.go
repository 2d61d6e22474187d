// Package regions benchmarks deployments against each other — typically the same
// service in two regions — fairly: one request stream is sent to every target,
// interleaved in rounds whose order rotates, so time-of-day drift, warm-up and ordering
// bias hit all targets alike. Analyze turns the latencies into per-target percentiles
// with bootstrap confidence intervals and pairwise comparisons with a verdict that says
// when a difference is not significant; the Write* encoders render the result.
package regions

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// Target is one deployment under comparison.
type Target struct {
	// Name labels the target in reports, e.g. "eu".
	Name string `json:"name"`
	// URL is the target's base URL, e.g. "https://eu.example.com". The stream's paths
	// and queries are appended to it.
	URL string `json:"url"`
}

// Options configures Run.
type Options struct {
	// Targets are compared with each other; at least two, with distinct names.
	Targets []Target
	// Stream yields the requests. Request k of the stream is sent to every target in
	// round k. Only the path and query of its URLs are used (the scheme and host are
	// the target's); a Host header is dropped. Stream must not be nil.
	Stream vegeta.Targeter
	// Rate is rounds per second: each target receives Rate requests per second and
	// the attack as a whole Rate×len(Targets) (default 10).
	Rate float64
	// Rounds is how many rounds to run. When 0, Duration decides (Rate×Duration
	// rounds); one of the two must be set.
	Rounds int
	// Duration is how long to run when Rounds is 0.
	Duration time.Duration
	// Warmup is how many rounds at the start are sent but not recorded (connection
	// and TLS set-up, cold caches).
	Warmup int
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
}

func (o Options) normalized() (Options, error) {
	if len(o.Targets) < 2 {
		return o, fmt.Errorf("regions: %d target(s): give at least two to compare (e.g. --target eu=URL --target us=URL)", len(o.Targets))
	}
	seen := map[string]bool{}
	for i, t := range o.Targets {
		if t.Name == "" {
			return o, fmt.Errorf("regions: target %d (%s) has no name: name it, e.g. eu=%s", i+1, t.URL, t.URL)
		}
		if seen[t.Name] {
			return o, fmt.Errorf("regions: target name %q is used twice: give each target its own name", t.Name)
		}
		seen[t.Name] = true
		u, err := url.Parse(t.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("regions: target %s URL %q: want an absolute http(s) URL such as https://eu.example.com", t.Name, t.URL)
		}
	}
	if o.Stream == nil {
		return o, errors.New("regions: no request stream: set Options.Stream (e.g. a loadgen/traffic targeter)")
	}
	if o.Rate == 0 {
		o.Rate = 10
	}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		return o, fmt.Errorf("regions: rate %v: want a positive number of rounds per second", o.Rate)
	}
	if o.Rounds == 0 {
		if o.Duration <= 0 {
			return o, errors.New("regions: neither rounds nor duration set: give one (e.g. --duration 30s or --rounds 500)")
		}
		o.Rounds = int(math.Ceil(o.Rate * o.Duration.Seconds()))
	}
	if o.Rounds < 0 || o.Warmup < 0 {
		return o, fmt.Errorf("regions: rounds %d, warmup %d: want non-negative counts", o.Rounds, o.Warmup)
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	return o, nil
}

// Samples are latencies of successful requests.
type Samples []time.Duration

// Millis returns the samples in milliseconds.
func (s Samples) Millis() []float64 {
	out := make([]float64, len(s))
	for i, d := range s {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// TargetResult is what one target returned.
type TargetResult struct {
	Target Target `json:"target"`
	// Latency holds vegeta's latency (from the actual send to the end of the reply)
	// of every recorded successful request, in completion order.
	Latency Samples `json:"-"`
	// Intended holds the latency from the intended send time (the pacer's schedule)
	// of the same requests: what a user arriving on schedule waited.
	Intended Samples `json:"-"`
	// Summary has the target's counts, codes, errors and HDR latency distributions.
	Summary record.Summary `json:"summary"`
}

// Result is a finished (or interrupted) run.
type Result struct {
	Targets []TargetResult `json:"targets"`
	// Rate is rounds per second; Rounds how many were planned, Warmup how many of
	// them were not recorded.
	Rate   float64 `json:"rate"`
	Rounds int     `json:"rounds"`
	Warmup int     `json:"warmup"`
	// Sent is how many rounds were started (an interrupted last round may not have
	// reached every target).
	Sent  int       `json:"sent"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Interrupted is true when ctx ended the run early; the result then holds what
	// was measured until then.
	Interrupted bool `json:"interrupted"`
}

// Run sends the stream to every target and records the latencies. Round k takes
// request k of the stream and sends it to each target, starting with target k mod N
// and going round, the sends spaced evenly at Rate×N per second. If ctx ends first,
// Run stops sending, waits for the requests in flight and returns the partial result
// with Interrupted set (and a nil error).
func Run(ctx context.Context, opts Options) (Result, error) {
	opts, err := opts.normalized()
	if err != nil {
		return Result{}, err
	}
	n := len(opts.Targets)
	bases := make([]*url.URL, n)
	for i, t := range opts.Targets {
		bases[i], _ = url.Parse(t.URL)
	}
	total := uint64(opts.Rounds) * uint64(n)
	interval := time.Duration(float64(time.Second) / (opts.Rate * float64(n)))
	if interval <= 0 {
		return Result{}, fmt.Errorf("regions: rate %v rounds/s × %d targets is too fast to pace: lower --rate", opts.Rate, n)
	}
	pacer := countedPacer{pacer: vegeta.ConstantPacer{Freq: 1, Per: interval}, hits: total}
	schedule := record.NewSchedule(pacer)

	inter := &interleaver{stream: opts.Stream, bases: bases, round: -1}
	attacker := vegeta.NewAttacker(vegeta.Timeout(opts.Timeout), vegeta.KeepAlive(true), vegeta.MaxBody(1<<20))
	start := time.Now()
	recorders := make([]*record.Recorder, n)
	out := Result{Targets: make([]TargetResult, n), Rate: opts.Rate, Rounds: opts.Rounds, Warmup: opts.Warmup, Start: start}
	for i, t := range opts.Targets {
		// A Scheduler that is not a *record.Schedule makes Finish count requests as
		// requested: the shared schedule counts every target's hits.
		recorders[i] = record.New(record.Options{Start: start, Schedule: schedulerFunc(schedule.Offset)})
		out.Targets[i].Target = t
	}

	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			attacker.Stop()
		case <-stopped:
		}
	}()

	var streamErr error
	for res := range attacker.Attack(inter.targeter, pacer, 0, "regions") {
		hit, ok := hitFromURL(res.URL)
		if !ok {
			if res.Error != "" && res.Error != vegeta.ErrNoTargets.Error() && streamErr == nil {
				streamErr = fmt.Errorf("regions: request stream: %s", res.Error)
			}
			continue
		}
		round, ti := int(hit/uint64(n)), inter.targetOf(hit)
		if round < opts.Warmup {
			continue
		}
		res.URL = stripHit(res.URL)
		recorders[ti].Add(res)
		if res.Error == "" && res.Code >= 200 && res.Code < 400 {
			tr := &out.Targets[ti]
			tr.Latency = append(tr.Latency, res.Latency)
			intended := res.Latency
			if at, ok := recorders[ti].IntendedTime(res.Seq); ok {
				intended = max(res.End().Sub(at), res.Latency)
			}
			tr.Intended = append(tr.Intended, intended)
		}
	}
	out.End = time.Now()
	for i := range recorders {
		recorders[i].Finish(out.End)
		out.Targets[i].Summary = recorders[i].Summary()
	}
	out.Sent = inter.rounds()
	out.Interrupted = ctx.Err() != nil && out.Sent < opts.Rounds
	if streamErr != nil && !out.Interrupted {
		return out, streamErr
	}
	return out, nil
}

// countedPacer stops its pacer after hits hits.
type countedPacer struct {
	pacer vegeta.Pacer
	hits  uint64
}

func (p countedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.hits {
		return 0, true
	}
	return p.pacer.Pace(elapsed, hits)
}

func (p countedPacer) Rate(elapsed time.Duration) float64 { return p.pacer.Rate(elapsed) }

type schedulerFunc func(seq uint64) time.Duration

func (f schedulerFunc) Offset(seq uint64) time.Duration { return f(seq) }

// interleaver hands out hit j = round k, position p: the stream's request k aimed at
// target (k+p) mod N. The hit number rides in the URL fragment, which HTTP clients
// never send, so each result can be traced back to its round and target.
type interleaver struct {
	stream vegeta.Targeter
	bases  []*url.URL

	mu      sync.Mutex
	next    uint64
	round   int
	current vegeta.Target
}

func (in *interleaver) targetOf(hit uint64) int {
	n := uint64(len(in.bases))
	return int((hit/n + hit%n) % n)
}

func (in *interleaver) rounds() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return int((in.next + uint64(len(in.bases)) - 1) / uint64(len(in.bases)))
}

func (in *interleaver) targeter(tgt *vegeta.Target) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	hit := in.next
	round := int(hit / uint64(len(in.bases)))
	if round != in.round {
		var t vegeta.Target
		if err := in.stream(&t); err != nil {
			if errors.Is(err, vegeta.ErrNoTargets) {
				return err // a finite stream ran out: the run ends here
			}
			return fmt.Errorf("round %d: %w", round, err)
		}
		in.current, in.round = t, round
	}
	u, err := url.Parse(in.current.URL)
	if err != nil {
		return fmt.Errorf("round %d: stream URL %q: %w", round, in.current.URL, err)
	}
	base := in.bases[in.targetOf(hit)]
	dst := *base
	dst.Path = strings.TrimRight(base.Path, "/") + u.Path
	dst.RawPath = ""
	dst.RawQuery = u.RawQuery
	dst.Fragment = hitPrefix + strconv.FormatUint(hit, 10)
	in.next++

	*tgt = vegeta.Target{Method: in.current.Method, URL: dst.String(), Body: in.current.Body}
	if len(in.current.Header) > 0 {
		tgt.Header = in.current.Header.Clone()
		tgt.Header.Del("Host")
	}
	return nil
}

const hitPrefix = "shakedown-hit="

func hitFromURL(raw string) (uint64, bool) {
	i := strings.LastIndex(raw, "#"+hitPrefix)
	if i < 0 {
		return 0, false
	}
	hit, err := strconv.ParseUint(raw[i+1+len(hitPrefix):], 10, 64)
	return hit, err == nil
}

func stripHit(raw string) string {
	if i := strings.LastIndex(raw, "#"+hitPrefix); i >= 0 {
		return raw[:i]
	}
	return raw
}
