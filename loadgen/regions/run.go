// Package regions benchmarks deployments against each other — typically the same
// service in two regions — fairly: one request stream is sent to every target,
// interleaved in rounds whose order rotates, so time-of-day drift, warm-up and ordering
// bias hit all targets alike. Analyze turns the latencies into per-target percentiles
// with bootstrap confidence intervals and pairwise comparisons (a paired bootstrap over
// rounds, beside the independent one) with a verdict that says when a difference is
// not significant, and checks the error rule and the Thresholds; CheckResidency checks
// that each target's events are stored in its region only; the Write* encoders render
// the result.
package regions

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
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

// ParseTargets parses targets written NAME=URL, e.g. eu=https://eu.example.com (a
// trailing slash is dropped). Errors wrap ErrInvalidOptions; Options.Validate checks
// the names and URLs themselves.
func ParseTargets(specs []string) ([]Target, error) {
	var out []Target
	for _, spec := range specs {
		name, u, ok := strings.Cut(spec, "=")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(u) == "" {
			return nil, invalid("target %q: want NAME=URL, e.g. eu=https://eu.example.com", spec)
		}
		out = append(out, Target{Name: strings.TrimSpace(name), URL: strings.TrimRight(strings.TrimSpace(u), "/")})
	}
	return out, nil
}

// ErrInvalidOptions marks an error in how a benchmark was asked for (a bad option or
// threshold): the CLI reports it as a usage error, before any request is sent.
var ErrInvalidOptions = errors.New("invalid region benchmark options")

// DefaultRate is the rounds per second of Options.Rate when it is 0.
const DefaultRate = 10

// DefaultTimeout bounds each request when Options.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Options configures Run.
type Options struct {
	// Targets are compared with each other; at least two, with distinct names made of
	// letters, digits, '-', '_' and '.' (thresholds refer to them, as in eu.p(95)).
	Targets []Target
	// Stream yields the requests. Request k of the stream is sent to every target in
	// round k. Only the path and query of its URLs are used (the scheme and host are
	// the target's); a Host header is dropped. Stream must not be nil.
	Stream vegeta.Targeter
	// Rate is rounds per second: each target receives Rate requests per second and
	// the attack as a whole Rate×len(Targets) (0 means DefaultRate).
	Rate float64
	// Rounds is how many rounds to run, warm-up included. When 0, Duration decides
	// (Rate×Duration rounds); one of the two must be set.
	Rounds int
	// Duration is how long to run when Rounds is 0.
	Duration time.Duration
	// Warmup is how many rounds at the start are sent but not recorded (connection
	// and TLS set-up, cold caches); fewer than Rounds.
	Warmup int
	// Timeout bounds each request (0 means DefaultTimeout).
	Timeout time.Duration
	// TrackEvents gives every target its own event uuids and records them
	// (TargetResult.Events), so that CheckResidency can tell to which target a stored
	// event was sent. Each target's copy of a request then differs from the stream's
	// in its uuids only (see events.go); requests without events pass unchanged.
	TrackEvents bool
}

// targetName is what a target may be called.
var targetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Validate checks the options without sending anything, so that a command can refuse
// a bad flag before it starts a stack or a run; Run calls it too. Errors wrap
// ErrInvalidOptions and say what to write instead. A nil Stream is not checked here
// (a command builds it last); Run refuses it.
func (o Options) Validate() error {
	_, err := o.normalized()
	return err
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, a...))
}

func (o Options) normalized() (Options, error) {
	if len(o.Targets) < 2 {
		return o, invalid("%d target(s): give at least two to compare (e.g. --target eu=URL --target us=URL)", len(o.Targets))
	}
	seen := map[string]bool{}
	for i, t := range o.Targets {
		if t.Name == "" {
			return o, invalid("target %d (%s) has no name: name it, e.g. eu=%s", i+1, t.URL, t.URL)
		}
		if !targetName.MatchString(t.Name) {
			return o, invalid("target name %q: use letters, digits, '-', '_' and '.', starting with a letter or digit (e.g. eu or us-east-1)", t.Name)
		}
		if seen[t.Name] {
			return o, invalid("target name %q is used twice: give each target its own name", t.Name)
		}
		seen[t.Name] = true
		u, err := url.Parse(t.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, invalid("target %s URL %q: want an absolute http(s) URL such as https://eu.example.com", t.Name, t.URL)
		}
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		return o, invalid("rate %v: want a positive number of rounds per second, e.g. 10", o.Rate)
	}
	if time.Duration(float64(time.Second)/(o.Rate*float64(len(o.Targets)))) <= 0 {
		return o, invalid("rate %v rounds/s × %d targets is too fast to pace: lower the rate", o.Rate, len(o.Targets))
	}
	if o.Rounds < 0 || o.Warmup < 0 || o.Duration < 0 || o.Timeout < 0 {
		return o, invalid("rounds %d, warm-up %d, duration %s, timeout %s: want no negative values", o.Rounds, o.Warmup, o.Duration, o.Timeout)
	}
	if o.Rounds == 0 {
		if o.Duration <= 0 {
			return o, invalid("neither rounds nor duration set: give one (e.g. --duration 30s or --rounds 500)")
		}
		o.Rounds = int(math.Ceil(o.Rate * o.Duration.Seconds()))
	}
	if o.Warmup >= o.Rounds {
		return o, invalid("%d rounds with %d warm-up rounds leave none to measure: run more rounds or warm up less", o.Rounds, o.Warmup)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
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
	// Rounds holds the round of each entry of Latency and Intended (counted from 0,
	// warm-up included), which pairs them with the other targets' samples of the same
	// round.
	Rounds []int `json:"-"`
	// Summary has the target's counts, codes, errors and HDR latency distributions.
	Summary record.Summary `json:"summary"`
	// Events are the event uuids sent to the target when Options.TrackEvents is set.
	Events TargetEvents `json:"-"`
}

// TargetEvents are the event uuids a target was sent, warm-up rounds included.
type TargetEvents struct {
	// Acked are the uuids of requests the target answered with a 2xx status: the
	// target took them, so they must be stored in its region.
	Acked []string
	// Unacked are the uuids of requests that failed: they may or may not be stored,
	// but never in another region.
	Unacked []string
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
	if opts.Stream == nil {
		return Result{}, invalid("no request stream: set Options.Stream (e.g. a loadgen/traffic targeter)")
	}
	n := len(opts.Targets)
	bases := make([]*url.URL, n)
	for i, t := range opts.Targets {
		bases[i], _ = url.Parse(t.URL)
	}
	total := uint64(opts.Rounds) * uint64(n)
	interval := time.Duration(float64(time.Second) / (opts.Rate * float64(n)))
	pacer := countedPacer{pacer: vegeta.ConstantPacer{Freq: 1, Per: interval}, hits: total}
	schedule := record.NewSchedule(pacer)

	inter := &interleaver{stream: opts.Stream, bases: bases, round: -1}
	if opts.TrackEvents {
		inter.sent = map[uint64][]string{}
		for _, t := range opts.Targets {
			inter.keys = append(inter.keys, targetKey(t.Name))
		}
	}
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
		success := res.Error == "" && res.Code >= 200 && res.Code < 400
		if uuids := inter.takeSent(hit); len(uuids) > 0 {
			ev := &out.Targets[ti].Events
			if success && res.Code < 300 {
				ev.Acked = append(ev.Acked, uuids...)
			} else {
				ev.Unacked = append(ev.Unacked, uuids...)
			}
		}
		if round < opts.Warmup {
			continue
		}
		res.URL = stripHit(res.URL)
		recorders[ti].Add(res)
		if success {
			tr := &out.Targets[ti]
			tr.Rounds = append(tr.Rounds, round)
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

	// keys are the targets' uuid keys when events are tracked (else nil).
	keys [][16]byte

	mu      sync.Mutex
	next    uint64
	round   int
	current vegeta.Target
	// decoded is the current request's events, when it has any and keys is set.
	decoded   decodedRequest
	hasEvents bool
	// sent holds the uuids of each hit in flight when keys is set.
	sent map[uint64][]string
}

// takeSent returns and forgets the uuids sent with hit.
func (in *interleaver) takeSent(hit uint64) []string {
	if in.sent == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	u := in.sent[hit]
	delete(in.sent, hit)
	return u
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
		if in.keys != nil {
			d, ok, err := decodeEvents(t)
			if err != nil {
				return fmt.Errorf("round %d: give each target its own event uuids: %w", round, err)
			}
			in.decoded, in.hasEvents = d, ok
		}
	}
	cur := in.current
	ti := in.targetOf(hit)
	if in.hasEvents {
		var uuids []string
		var err error
		if cur, uuids, err = in.decoded.reencode(cur, in.keys[ti]); err != nil {
			return fmt.Errorf("round %d: give target %d its own event uuids: %w", round, ti+1, err)
		}
		in.sent[hit] = uuids
	}
	u, err := url.Parse(cur.URL)
	if err != nil {
		return fmt.Errorf("round %d: stream URL %q: %w", round, cur.URL, err)
	}
	base := in.bases[ti]
	dst := *base
	dst.Path = strings.TrimRight(base.Path, "/") + u.Path
	dst.RawPath = ""
	dst.RawQuery = u.RawQuery
	dst.Fragment = hitPrefix + strconv.FormatUint(hit, 10)
	in.next++

	*tgt = vegeta.Target{Method: cur.Method, URL: dst.String(), Body: cur.Body}
	if len(cur.Header) > 0 {
		tgt.Header = cur.Header.Clone()
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
