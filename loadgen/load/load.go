// Package load is the load layer as a library: one attack of realistic
// PostHog traffic (every event unique) at a paced rate, with intended-time
// latency, end-to-end latency to ClickHouse for a sample of events, and
// thresholds. `shakedown load` maps its flags to Options and encodes the
// Result; the release gate runs it as its load stage.
package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/internal/phclient"
	"github.com/shakedown-dev/shakedown/loadgen"
	"github.com/shakedown-dev/shakedown/loadgen/ingest"
	"github.com/shakedown-dev/shakedown/loadgen/pace"
	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

// ErrInvalidOptions marks an error in Options the caller must fix; nothing
// was sent.
var ErrInvalidOptions = errors.New("load: invalid options")

// PrebuildHorizon is how much of a run without an end is prebuilt.
const PrebuildHorizon = time.Minute

// Options configure Run.
type Options struct {
	// Target is the capture API's base URL; Token a project API token.
	Target, Token string
	// Pacer shapes the rate; its Duration bounds the attack (0: until ctx
	// ends, e.g. on Ctrl-C).
	Pacer pace.Spec
	// Seed makes the traffic repeatable (0: random; Result.Seed tells).
	Seed uint64
	// Kinds and Encodings weight the mix (nil: traffic's defaults).
	Kinds     map[traffic.Kind]float64
	Encodings map[phclient.Encoding]float64
	// Pool, when above 0, builds that many targets up front and cycles
	// through them (events repeat).
	Pool int
	// PrebuildMemory bounds the requests built before the attack (0:
	// loadgen.DefaultPrebuildMemory; negative: none, all are built during the
	// attack). See traffic.Generator.Prebuild.
	PrebuildMemory int64
	// MaxWorkers bounds vegeta's workers (0: unbounded, the open model);
	// Timeout is the per-request timeout (default 30 s).
	MaxWorkers uint64
	Timeout    time.Duration
	// Thresholds are held against the result.
	Thresholds []threshold.Threshold
	// ClickHouse, when set, measures end-to-end latency: one event in
	// SampleEvery (default 100) is looked for in Database's events table
	// until E2ETimeout (default 30 s) after its send.
	ClickHouse  driver.Conn
	Database    string
	SampleEvery uint64
	E2ETimeout  time.Duration
	// Tick is called about once a second during the attack; Log with each
	// step around it ("built 2000 requests before the attack ..."); Observe
	// with every result right after it is recorded, and its latency from the
	// intended send time. All optional; Observe is called from one goroutine.
	Tick    func(loadgen.Progress)
	Log     func(string)
	Observe func(res *vegeta.Result, intended time.Duration)
}

// Result is one attack's outcome.
type Result struct {
	// Recorder holds every measurement; Seed is the traffic seed used.
	Recorder *record.Recorder
	Seed     uint64
	// Thresholds are the thresholds checked, in order.
	Thresholds []threshold.Result
	// Stopped says why the attack ended early ("interrupted after 3.2s"),
	// empty when it ran its course.
	Stopped string
	// E2EErr is why end-to-end latency could not be measured to the end
	// (the attack's own results stand).
	E2EErr error
}

// Passed tells whether every threshold held and not every request failed.
func (r *Result) Passed() bool {
	for _, t := range r.Thresholds {
		if !t.Pass {
			return false
		}
	}
	return !r.AllFailed()
}

// AllFailed tells whether requests were sent and none succeeded: nothing the
// target did worked, whatever the thresholds say.
func (r *Result) AllFailed() bool {
	s := r.Recorder.Summary()
	return s.Requests > 0 && s.Errors == s.Requests
}

func (o *Options) defaults() (vegeta.Pacer, error) {
	if o.Target == "" || o.Token == "" {
		return nil, fmt.Errorf("%w: the capture URL and a project token are required", ErrInvalidOptions)
	}
	if o.Pacer.Kind == "" {
		o.Pacer.Kind = "constant"
	}
	pacer, err := pace.New(o.Pacer)
	if err != nil {
		return nil, fmt.Errorf("%w: pacer %s: %v", ErrInvalidOptions, o.Pacer.Kind, err)
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.PrebuildMemory == 0 {
		o.PrebuildMemory = loadgen.DefaultPrebuildMemory
	}
	if o.SampleEvery == 0 {
		o.SampleEvery = 100
	}
	if o.ClickHouse == nil {
		o.SampleEvery = 0
	}
	if o.Log == nil {
		o.Log = func(string) {}
	}
	return pacer, nil
}

// Run makes the attack. Check failures are in the Result; the error is for
// options the caller must fix (ErrInvalidOptions) or an attack that could
// not run. When ctx ends early the attack stops, in-flight requests
// complete, and the Result holds the partial attack with Stopped set.
func Run(ctx context.Context, opts Options) (*Result, error) {
	pacer, err := opts.defaults()
	if err != nil {
		return nil, err
	}
	duration := opts.Pacer.Duration
	gen, err := traffic.New(traffic.Options{BaseURL: opts.Target, Token: opts.Token, Seed: opts.Seed, Kinds: opts.Kinds,
		Encodings: opts.Encodings, Epoch: time.Now(), SampleEvery: opts.SampleEvery, Pool: opts.Pool})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	if opts.Pool > 0 {
		opts.Log(fmt.Sprintf("building %d targets ...", opts.Pool))
		if err := gen.Warm(ctx); err != nil {
			return nil, err
		}
	} else if err := prebuild(ctx, opts, gen, pacer, duration); err != nil {
		return nil, err
	}

	// The schedule starts now, after every slow step of the set-up: intended
	// send times count from the attack's first tick, right after.
	start := time.Now()
	rec := record.New(record.Options{Start: start, Schedule: record.NewSchedule(pacer), Classify: classify})
	res := &Result{Recorder: rec, Seed: opts.Seed}
	attackCtx, endAttack := context.WithCancel(ctx)
	defer endAttack()
	polled := make(chan error, 1)
	var tracker *ingest.Tracker
	if opts.ClickHouse != nil {
		tracker = ingest.New(opts.ClickHouse, ingest.Options{Database: opts.Database, Timeout: opts.E2ETimeout, FoundAt: rec.AddE2EAt, Lost: rec.AddE2ELost})
		e2eTimeout := opts.E2ETimeout
		if e2eTimeout <= 0 {
			e2eTimeout = 30 * time.Second
		}
		// Until interrupted, the drain ends only after the interruption (below).
		drainCtx, endDrain := context.WithCancel(context.WithoutCancel(ctx))
		if duration > 0 {
			endDrain()
			drainCtx, endDrain = context.WithTimeout(context.WithoutCancel(ctx), duration+e2eTimeout+5*time.Second)
		}
		defer endDrain()
		// Interrupted: give sampled events a few seconds more, not the full timeout.
		stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(5*time.Second, endDrain) })
		defer stopAfter()
		go func() { polled <- tracker.Run(attackCtx, drainCtx) }()
	} else {
		close(polled)
	}
	observe := func(*traffic.Target) {}
	if tracker != nil {
		observe = func(t *traffic.Target) { tracker.Sent(time.Now(), t.Sampled...) }
	}
	var observeResult func(*vegeta.Result)
	if opts.Observe != nil {
		observeResult = func(r *vegeta.Result) { opts.Observe(r, rec.IntendedLatency(r)) }
	}
	_, runErr := loadgen.Run(ctx, loadgen.Attack{
		Name: "shakedown", Targeter: gen.Targeter(attackCtx, observe), Pacer: pacer, Duration: duration,
		MaxWorkers: opts.MaxWorkers, Timeout: opts.Timeout, Recorder: rec, Tick: opts.Tick, Observe: observeResult,
	})
	endAttack()
	if tracker != nil && ctx.Err() == nil {
		opts.Log("waiting for sampled events to become queryable ...")
	}
	res.E2EErr = <-polled
	if runErr != nil && ctx.Err() == nil {
		return res, runErr
	}
	if ctx.Err() != nil {
		res.Stopped = "interrupted after " + time.Since(start).Round(time.Millisecond).String()
	}
	res.Thresholds, _ = threshold.CheckAll(opts.Thresholds, rec)
	return res, nil
}

// prebuild builds the requests the pacer schedules over the run (the first
// PrebuildHorizon of a run without an end), up to opts.PrebuildMemory,
// before the attack starts; see traffic.Generator.Prebuild.
func prebuild(ctx context.Context, opts Options, gen *traffic.Generator, pacer vegeta.Pacer, duration time.Duration) error {
	if opts.PrebuildMemory < 0 {
		return nil
	}
	window := duration
	if window <= 0 {
		window = PrebuildHorizon
	}
	n := record.NewSchedule(pacer).Count(window)
	if n == 0 {
		return nil
	}
	n = min(n, uint64(opts.PrebuildMemory/512)) // no request is smaller than 512 bytes: bounds the count
	began := time.Now()
	last := time.Now()
	built, err := gen.Prebuild(ctx, int(n), opts.PrebuildMemory, func(done int) {
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			opts.Log(fmt.Sprintf("building requests ahead: %d of %d", done, n))
		}
	})
	if err != nil {
		return fmt.Errorf("build requests before the attack: %w", err)
	}
	rest := ""
	if uint64(built) < n {
		rest = fmt.Sprintf("; the other %d are built during the attack (raise the prebuild memory to build more ahead)", n-uint64(built))
	}
	opts.Log(fmt.Sprintf("built %d requests before the attack in %s%s", built, time.Since(began).Round(10*time.Millisecond), rest))
	return nil
}

// classify names the request kind and encoding of a result, for the
// report's breakdowns.
func classify(method, url string) (string, string) {
	k, e := traffic.Classify(method, url)
	return string(k), string(e)
}
