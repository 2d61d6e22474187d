package kubebin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lock takes an exclusive flock on path, waiting (and saying so) while another process
// holds it. The lock dies with the process, so a killed build never blocks the next.
func (c *Cache) lock(ctx context.Context, path, what string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open lock %s: %w", what, path, err)
	}
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("%s: lock %s: %w", what, path, err)
		}
		if !waiting && c.opts.Progress != nil {
			c.opts.Progress.Step(fmt.Sprintf("waiting for another process building %s", what))
			waiting = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%s: waiting for the build lock %s: %w", what, path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	if waiting {
		c.opts.Progress.Done()
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
