// Package loadgen runs open-model load attacks against a capture API and records
// them honestly: vegeta sends on the pacer's schedule with as many workers as it
// takes, and every result is recorded from its intended send time as well as
// vegeta's own, so a stalled server cannot hide behind a slowed-down attacker
// (coordinated omission).
//
// The pieces, each its own package: traffic (the Targeter of realistic PostHog
// requests), pace (pacers), record (the Recorder), threshold (k6-like pass/fail
// rules), ingest (end-to-end latency to ClickHouse), report (text, JSON, Markdown
// and HTML encoders) and distributed (indexed Kubernetes Jobs of workers).
package loadgen

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// Attack describes one load attack.
type Attack struct {
	// Name tags vegeta's requests (X-Vegeta-Attack header).
	Name string
	// Targeter yields the requests, e.g. traffic.Generator.Targeter. Required.
	Targeter vegeta.Targeter
	// Pacer sets the request rate. Required.
	Pacer vegeta.Pacer
	// Duration bounds the attack (0: until ctx ends or the pacer stops).
	Duration time.Duration
	// Workers is vegeta's initial worker count (default vegeta's, 10).
	Workers uint64
	// MaxWorkers bounds the workers; 0 means unbounded — an open model, where slow
	// replies never hold back the next send. Bound it only to study closed-model
	// behaviour.
	MaxWorkers uint64
	// Timeout is the per-request timeout (default 30s).
	Timeout time.Duration
	// MaxBody caps how much of each reply body is read (default 4 KiB; -1: all).
	MaxBody int64
	// LateAfter: a send later than this behind schedule counts as late (default
	// record.DefaultLateAfter).
	LateAfter time.Duration
	// Observe, when set, sees every result right after it is recorded.
	Observe func(*vegeta.Result)
	// Tick, when set, is called about once a second with the progress so far
	// (from the results goroutine's side; keep it quick).
	Tick func(Progress)
	// Recorder, when set, receives the results instead of a new one (it must have
	// been created with this attack's Start and Schedule; see Prepare).
	Recorder *record.Recorder
}

// Progress is the state of a running attack, for live display.
type Progress struct {
	// Elapsed since the attack began.
	Elapsed time.Duration
	// Requests sent so far, and errors among them.
	Requests, Errors uint64
	// TargetRate is the pacer's rate now.
	TargetRate float64
	// Last is the last whole second (by intended send time).
	Last record.Second
}

// Prepare returns a Recorder for an attack with pacer p that begins at start: its
// intended send times follow p's schedule. Run uses it unless Attack.Recorder is set.
func Prepare(start time.Time, p vegeta.Pacer, lateAfter time.Duration) *record.Recorder {
	return record.New(record.Options{Start: start, Schedule: record.NewSchedule(p), LateAfter: lateAfter})
}

// Run performs the attack and returns its Recorder, finished (see record.Finish).
// When ctx ends early the attack stops, in-flight requests complete, and the
// Recorder holds the partial attack; Run then returns it with ctx's error.
func Run(ctx context.Context, a Attack) (*record.Recorder, error) {
	if a.Targeter == nil || a.Pacer == nil {
		return nil, fmt.Errorf("loadgen: an attack needs a Targeter and a Pacer")
	}
	maxWorkers := a.MaxWorkers
	if maxWorkers == 0 {
		maxWorkers = math.MaxUint64
	}
	opts := []func(*vegeta.Attacker){vegeta.MaxWorkers(maxWorkers), vegeta.KeepAlive(true)}
	if a.Workers > 0 {
		opts = append(opts, vegeta.Workers(min(a.Workers, maxWorkers)))
	}
	if a.Timeout > 0 {
		opts = append(opts, vegeta.Timeout(a.Timeout))
	}
	maxBody := a.MaxBody
	if maxBody == 0 {
		maxBody = 4 << 10
	}
	opts = append(opts, vegeta.MaxBody(maxBody))
	attacker := vegeta.NewAttacker(opts...)

	start := time.Now()
	rec := a.Recorder
	if rec == nil {
		rec = Prepare(start, a.Pacer, a.LateAfter)
	}
	// Intended send times count from the attack's first tick, which vegeta
	// takes inside Attack: the first Pace call tells it (its elapsed argument is
	// measured from there), so set-up before it adds no offset.
	pacer := &firstTick{Pacer: a.Pacer, began: rec.StartAt}
	results := attacker.Attack(a.Targeter, pacer, a.Duration, a.Name)

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var stoppedAt time.Time
	done := ctx.Done()
	var requests, errors uint64
	for {
		select {
		case res, ok := <-results:
			if !ok {
				start = pacer.start(start)
				end := time.Now()
				if !stoppedAt.IsZero() {
					end = stoppedAt
				} else if a.Duration > 0 && end.Sub(start) > a.Duration {
					end = start.Add(a.Duration)
				}
				rec.Finish(end)
				if !stoppedAt.IsZero() {
					return rec, fmt.Errorf("loadgen: attack stopped after %s: %w", stoppedAt.Sub(start).Round(time.Millisecond), ctx.Err())
				}
				return rec, nil
			}
			rec.Add(res)
			requests++
			if res.Error != "" || res.Code < 200 || res.Code >= 400 {
				errors++
			}
			if a.Observe != nil {
				a.Observe(res)
			}
		case now := <-tick.C:
			if a.Tick != nil {
				elapsed := now.Sub(pacer.start(start))
				last, _ := rec.SecondAt(now.Add(-time.Second))
				a.Tick(Progress{Elapsed: elapsed, Requests: requests, Errors: errors, TargetRate: a.Pacer.Rate(elapsed), Last: last})
			}
		case <-done:
			stoppedAt = time.Now()
			attacker.Stop()
			done = nil // keep draining results
		}
	}
}

// firstTick is a Pacer that reports, on its first call, when the attack began:
// vegeta calls Pace(elapsed, 0) first, with elapsed measured from its start.
type firstTick struct {
	vegeta.Pacer
	once  sync.Once
	began func(time.Time)

	mu    sync.Mutex
	begun time.Time
}

// Pace records the start on the first call and defers to the wrapped pacer.
func (p *firstTick) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	p.once.Do(func() {
		t := time.Now().Add(-elapsed)
		p.mu.Lock()
		p.begun = t
		p.mu.Unlock()
		p.began(t)
	})
	return p.Pacer.Pace(elapsed, hits)
}

// start returns when the attack began, or fallback before its first tick.
func (p *firstTick) start(fallback time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.begun.IsZero() {
		return fallback
	}
	return p.begun
}
