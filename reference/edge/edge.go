// Package edge holds what every reference-stack HTTP server enforces before a handler
// sees a request: header, idle and body-rate timeouts (NewServer), the CORS policy
// (CORS) and which peers may name the client in X-Forwarded-For (Proxies).
package edge

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Defaults applied to zero Timeouts fields.
const (
	// DefaultReadHeaderTimeout bounds the wait for a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection that sends no next request.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultBodyTimeout is the longest a body may go without delivering a byte, and
	// the grace it gets on top of MinBodyRate.
	DefaultBodyTimeout = 10 * time.Second
	// DefaultMinBodyRate is the slowest average a body may arrive at, in bytes per
	// second (16 KiB/s: a 20 MiB batch may take about 21 minutes, a 1 KiB event 10 s).
	DefaultMinBodyRate = 16 << 10
)

// Timeouts bound how long a client may hold a connection without making progress.
// The zero value means the defaults.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers (default DefaultReadHeaderTimeout).
	ReadHeader time.Duration
	// Idle closes keep-alive connections idle this long (default DefaultIdleTimeout).
	Idle time.Duration
	// Body is the longest a request body may stall (no byte arriving) and the grace
	// added to the MinBodyRate deadline (default DefaultBodyTimeout). A body that misses
	// either fails its read with *BodyTimeoutError; capture answers 408.
	Body time.Duration
	// MinBodyRate is the slowest average body rate in bytes per second: the body's
	// n-th byte must have arrived within Body + n/MinBodyRate of the handler starting
	// (default DefaultMinBodyRate).
	MinBodyRate int64
}

// WithDefaults returns t with its zero fields set to the defaults.
func (t Timeouts) WithDefaults() Timeouts {
	if t.ReadHeader <= 0 {
		t.ReadHeader = DefaultReadHeaderTimeout
	}
	if t.Idle <= 0 {
		t.Idle = DefaultIdleTimeout
	}
	if t.Body <= 0 {
		t.Body = DefaultBodyTimeout
	}
	if t.MinBodyRate <= 0 {
		t.MinBodyRate = DefaultMinBodyRate
	}
	return t
}

// NewServer returns an http.Server serving h with t's timeouts: ReadHeaderTimeout
// and IdleTimeout on the server, and the body deadline (see Timeouts.Body) on every
// request that has a body. It sets no ReadTimeout or WriteTimeout: a large body
// arriving steadily, or a slow produce, must not be cut off at a fixed time.
func NewServer(h http.Handler, t Timeouts) *http.Server {
	t = t.WithDefaults()
	return &http.Server{
		Handler:           BodyDeadline(h, t),
		ReadHeaderTimeout: t.ReadHeader,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
	}
}

// BodyTimeoutError is a request body read that failed because the body stopped
// arriving, or arrived slower than the minimum rate.
type BodyTimeoutError struct {
	// Timeout is the stall limit and Rate the minimum average rate (bytes/s).
	Timeout time.Duration
	Rate    int64
	// Read is how many body bytes had arrived.
	Read int64
	// Err is the read's own error (a deadline error).
	Err error
}

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("request body too slow: %d bytes arrived, but a body must not stall for %s and must average at least %d bytes/s", e.Read, e.Timeout, e.Rate)
}

func (e *BodyTimeoutError) Unwrap() error { return e.Err }

// BodyDeadline wraps h so that a request body must keep arriving: each read gets
// the connection read deadline min(now+Body, start+Body+read/MinBodyRate), where
// start is when h was called and read the bytes so far. The first term closes a
// stalled body; the second a trickling one (a per-read deadline alone lets one
// byte every Body-1 seconds hold the request for ever), while a large body that
// arrives steadily is never cut off. When the body ends the deadline is cleared,
// so a slow handler is not interrupted. Without a deadline-capable connection (a
// ResponseRecorder) the body passes through unchanged.
func BodyDeadline(h http.Handler, t Timeouts) http.Handler {
	t = t.WithDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			b := &deadlineBody{rc: r.Body, ctl: http.NewResponseController(w), t: t, start: time.Now()}
			if b.extend() {
				r.Body = b
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody moves the connection's read deadline as body bytes arrive.
type deadlineBody struct {
	rc    io.ReadCloser
	ctl   *http.ResponseController
	t     Timeouts
	start time.Time
	n     int64
	done  bool
}

// extend sets the read deadline for the next read; false when the connection
// cannot have one.
func (b *deadlineBody) extend() bool {
	now := time.Now()
	rate := b.start.Add(b.t.Body + time.Duration(float64(b.n)/float64(b.t.MinBodyRate)*float64(time.Second)))
	deadline := now.Add(b.t.Body)
	if rate.Before(deadline) {
		deadline = rate
	}
	return b.ctl.SetReadDeadline(deadline) == nil
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.done {
		return b.rc.Read(p)
	}
	b.extend()
	n, err := b.rc.Read(p)
	b.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		b.done = true
		// The server reads the connection in the background once the body ended;
		// a deadline left in place would cancel the request while h still works.
		_ = b.ctl.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = &BodyTimeoutError{Timeout: b.t.Body, Rate: b.t.MinBodyRate, Read: b.n, Err: err}
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.rc.Close() }
