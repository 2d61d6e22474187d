package worker

import (
	"context"
	"time"
)

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

// retry calls fn until it succeeds or ctx is done; onErr sees every failure.
func retry(ctx context.Context, minDelay, maxDelay time.Duration, fn func(context.Context) error, onErr func(error)) error {
	b := backoff{min: minDelay, max: maxDelay}
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		onErr(err)
		if werr := b.wait(ctx); werr != nil {
			return err
		}
	}
}
