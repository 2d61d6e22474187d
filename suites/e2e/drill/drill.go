// Package drill runs fault drills against a deployment: a bounded stream of
// uniquely identified events is sent, paced over a few seconds, while a fault
// is injected and then recovered; afterwards every event capture acknowledged
// must be stored exactly once. Events capture refused (and the sender gave up
// on after retrying through the fault, as an SDK would) were never
// acknowledged, so they count as refused, not lost.
//
// A Fault is two functions, so the same drill serves the local stack
// (LocalFaults) and any other deployment a caller can break and mend.
package drill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shakedown-dev/shakedown/suites/e2e"
)

// ErrInvalidOptions wraps every error about Options the caller must fix.
var ErrInvalidOptions = errors.New("invalid drill options")

// Fault is one thing done to a deployment while events stream in.
type Fault struct {
	// Name says what the fault is, e.g. "clickhouse-kill".
	Name string
	// Inject puts the fault in place (pauses, kills) and returns.
	Inject func(ctx context.Context) error
	// Recover ends it (resumes, restarts); nil when the deployment must
	// recover by itself (a supervisor restarting what was killed).
	Recover func(ctx context.Context) error
	// Hold is how long the fault lasts before Recover (default 3 s).
	Hold time.Duration
}

// Options says what to send where, and which fault to inject.
type Options struct {
	// Target is the capture API base URL and Token the project token.
	Target, Token string
	// ClickHouse and Database are where stored events are counted.
	ClickHouse driver.Conn
	Database   string
	// Fault is injected a third of the way into the stream.
	Fault Fault
	// Events and People size the stream (defaults 3,000 and 200).
	Events, People int
	// Stream is how long sending lasts (default 9 s).
	Stream time.Duration
	// RetryFor is how long a refused request is retried (default Hold + 30 s).
	RetryFor time.Duration
	// Wait bounds how long acknowledged events may take to be stored once
	// the stream is over (default 2 minutes).
	Wait time.Duration
	// Seed makes the events and their mix repeatable.
	Seed uint64
}

// Result is what one drill measured.
type Result struct {
	Fault string `json:"fault"`
	// Sent events; Acked were acknowledged by capture; Refused were refused
	// for good after retries (never acknowledged).
	Sent    int `json:"sent"`
	Acked   int `json:"acked"`
	Refused int `json:"refused"`
	// Stored rows (after folding duplicates), Distinct uuids and RawRows
	// before folding, of the acknowledged events.
	Stored   uint64 `json:"stored"`
	Distinct uint64 `json:"distinct"`
	RawRows  uint64 `json:"raw_rows"`
	// Missing lists up to 20 acknowledged uuids not stored; MissingCount counts all.
	Missing      []string `json:"missing,omitempty"`
	MissingCount int      `json:"missing_count"`
	// Statuses counts capture's answers, retries included.
	Statuses      map[int]int `json:"statuses"`
	RefusedErrors []string    `json:"refused_errors,omitempty"`
	// InjectErr and RecoverErr are what the fault's functions returned.
	InjectErr  string        `json:"inject_error,omitempty"`
	RecoverErr string        `json:"recover_error,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
	// RTO is how long after the fault ended (Recover returned, or Inject for
	// a fault the deployment recovers from by itself) an event sent then was
	// stored: the time until events flow again end to end, to within the
	// sender's retry backoff (at most 1 s). RTOErr says why it was not
	// measured (not stored within Options.Wait).
	RTO    time.Duration `json:"rto_ns"`
	RTOErr string        `json:"rto_error,omitempty"`
}

// Passed says every acknowledged event is stored exactly once, something
// was acknowledged, and the fault was injected and recovered.
func (r *Result) Passed() bool {
	return r.Acked > 0 && r.MissingCount == 0 && r.Stored == uint64(r.Acked) && r.Distinct == uint64(r.Acked) &&
		r.InjectErr == "" && r.RecoverErr == "" && r.RTOErr == ""
}

// String is a one-line summary.
func (r *Result) String() string {
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	s := fmt.Sprintf("%s %s: sent %d, acknowledged %d, refused %d, stored %d (%d distinct, %d rows before folding), missing %d, statuses %v, recovered in %s, %s",
		verdict, r.Fault, r.Sent, r.Acked, r.Refused, r.Stored, r.Distinct, r.RawRows, r.MissingCount, r.Statuses, r.RTO.Round(10*time.Millisecond), r.Duration.Round(100*time.Millisecond))
	if r.RTOErr != "" {
		s += "; " + r.RTOErr
	}
	if r.InjectErr != "" {
		s += "; inject: " + r.InjectErr
	}
	if r.RecoverErr != "" {
		s += "; recover: " + r.RecoverErr
	}
	return s
}

func (o *Options) defaults() error {
	switch {
	case o.Target == "" || o.Token == "":
		return fmt.Errorf("%w: the capture URL and the project token are required", ErrInvalidOptions)
	case o.ClickHouse == nil:
		return fmt.Errorf("%w: a ClickHouse connection is required to count what was stored", ErrInvalidOptions)
	case o.Fault.Name == "" || o.Fault.Inject == nil:
		return fmt.Errorf("%w: the fault needs a name and an Inject function", ErrInvalidOptions)
	case o.Events < 0 || o.People < 0:
		return fmt.Errorf("%w: events and people must not be negative", ErrInvalidOptions)
	}
	if o.Database == "" {
		o.Database = "default"
	}
	if o.Events == 0 {
		o.Events = 3000
	}
	if o.People == 0 {
		o.People = 200
	}
	if o.Stream <= 0 {
		o.Stream = 9 * time.Second
	}
	if o.Fault.Hold <= 0 {
		o.Fault.Hold = 3 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = o.Fault.Hold + 30*time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 2 * time.Minute
	}
	return nil
}

// Run streams events, injects and recovers the fault, and counts what was
// stored. The error is for a drill that could not run (bad options, ClickHouse
// unreachable at the end); a fault the deployment did not survive shows in
// the Result (see Passed).
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	res := &Result{Fault: opts.Fault.Name, Sent: opts.Events}
	events := e2e.Generate(opts.Seed, opts.Events, opts.People)

	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		select {
		case <-ctx.Done():
			return
		case <-time.After(opts.Stream / 3):
		}
		if err := opts.Fault.Inject(ctx); err != nil {
			res.InjectErr = err.Error()
			if opts.Fault.Recover != nil { // it may have acted before failing (a cancelled request)
				_ = opts.Fault.Recover(context.WithoutCancel(ctx))
			}
			return
		}
		faultEnd := time.Now()
		if opts.Fault.Recover == nil {
			// A fault the deployment recovers from by itself (a kill) ends when
			// it is done: probe from now, while the supervisor restarts.
			res.RTO, res.RTOErr = recoveryTime(ctx, opts, faultEnd)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(opts.Fault.Hold):
		}
		if err := opts.Fault.Recover(context.WithoutCancel(ctx)); err != nil {
			res.RecoverErr = err.Error()
			return
		}
		res.RTO, res.RTOErr = recoveryTime(ctx, opts, time.Now())
	}()
	sent, sendErr := e2e.Send(ctx, opts.Target, opts.Token, events, e2e.SendOptions{Seed: opts.Seed, Concurrency: 4, MaxBatch: 20,
		Over: opts.Stream, RetryFor: opts.RetryFor, KeepGoing: true})
	<-faultDone
	res.Acked, res.Refused, res.Statuses, res.RefusedErrors = len(sent.Acked), len(sent.Refused), sent.Status, sent.RefusedErrors
	if sendErr != nil {
		res.Duration = time.Since(start)
		return res, fmt.Errorf("drill %s: send: %w", opts.Fault.Name, sendErr)
	}
	stored, err := e2e.WaitStored(ctx, opts.ClickHouse, opts.Database, sent.Acked, opts.Wait)
	res.Stored, res.Distinct, res.RawRows, res.Missing, res.MissingCount = stored.Rows, stored.Distinct, stored.RawRows, stored.Missing, stored.MissingCount
	res.Duration = time.Since(start)
	if err != nil && stored.MissingCount == 0 {
		return res, fmt.Errorf("drill %s: count stored events: %w", opts.Fault.Name, err)
	}
	return res, nil
}

// recoveryTime sends one probe event right after the fault ended, retrying
// until capture acknowledges it, and returns how long after end it was
// stored (see Result.RTO).
func recoveryTime(ctx context.Context, opts Options, end time.Time) (time.Duration, string) {
	probe := e2e.Generate(uint64(time.Now().UnixNano()), 1, 1) // a uuid of its own, whatever the seed
	sent, err := e2e.Send(ctx, opts.Target, opts.Token, probe, e2e.SendOptions{Seed: opts.Seed, RetryFor: opts.Wait, KeepGoing: true})
	if err != nil || len(sent.Acked) == 0 {
		return 0, fmt.Sprintf("a probe event sent after the fault was not acknowledged within %s (%v %v)", opts.Wait, err, sent.RefusedErrors)
	}
	for deadline := end.Add(opts.Wait); ; {
		stored, err := e2e.CountStored(ctx, opts.ClickHouse, opts.Database, sent.Acked)
		if err == nil && stored.MissingCount == 0 {
			return time.Since(end), ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Sprintf("a probe event sent after the fault was not stored within %s of its end", opts.Wait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}
