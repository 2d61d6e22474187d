package e2e

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ErrInvalidOptions wraps every error about Options the caller must fix.
var ErrInvalidOptions = errors.New("e2e: invalid options")

// Options configure Run.
type Options struct {
	// Target is the capture API's base URL; Token a project API token.
	Target, Token string
	// ClickHouse and Database (default "default") hold the events table.
	ClickHouse driver.Conn
	Database   string
	// Events and People size the stream (defaults 10,000 and 500).
	Events, People int
	// Seed makes the events and the mix of shapes and encodings repeatable
	// (0: from the clock; Result.Seed tells).
	Seed uint64
	// Concurrency and MaxBatch shape the sending (see SendOptions).
	Concurrency, MaxBatch int
	// Wait bounds how long acknowledged events may take to be stored
	// (default 2 minutes).
	Wait time.Duration
	// RetryFor and KeepGoing are SendOptions': with KeepGoing, requests
	// refused for good are counted (Result.Sent.Refused, which fails the
	// result) instead of ending the run with an error.
	RetryFor  time.Duration
	KeepGoing bool
	// Progress, when set, is told each step as it starts.
	Progress func(string)
}

// Result is what Run measured.
type Result struct {
	Seed uint64
	// Sent is what capture acknowledged; Stored what ClickHouse holds of it.
	Sent   SendResult
	Stored Stored
	// WaitErr is set when the acknowledged events were not all stored (or
	// could not be counted) within Options.Wait.
	WaitErr error
}

// Passed says every acknowledged event is stored exactly once.
func (r *Result) Passed() bool {
	n := uint64(len(r.Sent.Acked))
	return r.WaitErr == nil && n > 0 && len(r.Sent.Refused) == 0 && r.Stored.MissingCount == 0 && r.Stored.Rows == n && r.Stored.Distinct == n
}

// Failure says why the result did not pass ("" when it did).
func (r *Result) Failure() string {
	n := uint64(len(r.Sent.Acked))
	switch {
	case r.Passed():
		return ""
	case r.Stored.MissingCount > 0:
		return fmt.Sprintf("%d of %d acknowledged events not stored (first missing: %v)", r.Stored.MissingCount, n, r.Stored.Missing)
	case r.WaitErr != nil:
		return r.WaitErr.Error()
	case n == 0:
		return "capture acknowledged no event"
	case len(r.Sent.Refused) > 0:
		return fmt.Sprintf("capture refused %d events of a healthy stream (%v)", len(r.Sent.Refused), r.Sent.RefusedErrors)
	}
	return fmt.Sprintf("events sent != events stored: %d acknowledged, %d rows (FINAL), %d distinct", n, r.Stored.Rows, r.Stored.Distinct)
}

// Run sends Events uniquely identified events of People people in every
// PostHog shape and encoding and counts, per uuid, what ClickHouse stored of
// those capture acknowledged. A request capture refuses for good (after
// retries) is an error: the stream is meant for a healthy deployment.
func Run(ctx context.Context, opts Options) (*Result, error) {
	switch {
	case opts.Target == "" || opts.Token == "":
		return nil, fmt.Errorf("%w: the capture URL and a project token are required", ErrInvalidOptions)
	case opts.ClickHouse == nil:
		return nil, fmt.Errorf("%w: a ClickHouse connection is required to count what was stored", ErrInvalidOptions)
	case opts.Events < 0 || opts.People < 0:
		return nil, fmt.Errorf("%w: events and people must be at least 1", ErrInvalidOptions)
	}
	if opts.Events == 0 {
		opts.Events = 10_000
	}
	if opts.People == 0 {
		opts.People = 500
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.Wait <= 0 {
		opts.Wait = 2 * time.Minute
	}
	if opts.Database == "" {
		opts.Database = "default"
	}
	step := func(s string) {
		if opts.Progress != nil {
			opts.Progress(s)
		}
	}
	res := &Result{Seed: opts.Seed}
	step(fmt.Sprintf("sending %d events to %s (seed %d)", opts.Events, opts.Target, opts.Seed))
	sent, err := Send(ctx, opts.Target, opts.Token, Generate(opts.Seed, opts.Events, opts.People),
		SendOptions{Seed: opts.Seed, Concurrency: opts.Concurrency, MaxBatch: opts.MaxBatch, RetryFor: opts.RetryFor, KeepGoing: opts.KeepGoing})
	res.Sent = sent
	if err != nil {
		return res, fmt.Errorf("e2e: send: %w", err)
	}
	step(fmt.Sprintf("waiting for %d acknowledged events in ClickHouse", len(sent.Acked)))
	res.Stored, res.WaitErr = WaitStored(ctx, opts.ClickHouse, opts.Database, sent.Acked, opts.Wait)
	return res, nil
}
