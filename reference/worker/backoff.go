package worker

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kerr"
)

// isPermanent tells errors that the same input will always cause, so retrying would
// stall the partition forever: PostgreSQL data exceptions (SQLSTATE class 22, e.g. a
// NUL byte in text or jsonb) and program limits (class 54, e.g. an index row too
// large), and Kafka refusals of the record itself (too large, invalid).
func isPermanent(err error) bool {
	var pgErr *pgconn.PgError
	// Class 54 (program limit exceeded) is e.g. a key too long for a btree index.
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "54") {
		return true
	}
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage)
}

// backoff is a capped exponential retry delay.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

// wait sleeps for the next delay or until ctx is done, whichever is first.
func (b *backoff) wait(ctx context.Context) error {
	if b.next == 0 {
		b.next = b.min
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	if b.next *= 2; b.next > b.max {
		b.next = b.max
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retry calls fn until it succeeds, fails permanently (see isPermanent) or ctx is
// done; onErr sees every failure that is retried.
func retry(ctx context.Context, minDelay, maxDelay time.Duration, fn func(context.Context) error, onErr func(error)) error {
	b := backoff{min: minDelay, max: maxDelay}
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || isPermanent(err) {
			return err
		}
		onErr(err)
		if werr := b.wait(ctx); werr != nil {
			return err
		}
	}
}
