package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shakedown-dev/shakedown/internal/phclient"
)

// SendOptions shapes how Send spreads events over requests.
type SendOptions struct {
	// Seed makes the mix of shapes and encodings repeatable.
	Seed uint64
	// Concurrency is how many requests are in flight (default 8).
	Concurrency int
	// MaxBatch is the largest batch in one request (default 50); single-event
	// requests are mixed in too.
	MaxBatch int
	// Encodings to mix (default all of phclient.Encodings).
	Encodings []phclient.Encoding
	// Client sends the requests (default a client with a 30 s timeout).
	Client *http.Client
	// Retries is how often a request answered 429/503 or failing in transport is
	// sent again (default 5); a 200 must never need a retry.
	Retries int
	// RetryFor, when set, replaces Retries: a refused request is sent again
	// (with backoff up to 1 s) until it is acknowledged or RetryFor has passed
	// since its first attempt, as an SDK keeps retrying through an outage.
	RetryFor time.Duration
	// Pace, when set, spaces the starts of requests by at least this much, so
	// the events stream over time instead of arriving at once.
	Pace time.Duration
	// Over, when set (and Pace is not), spreads the requests' starts evenly
	// over this long.
	Over time.Duration
	// KeepGoing records events whose request is finally refused in
	// SendResult.Refused instead of failing Send: a refused event was never
	// acknowledged, so it is not lost.
	KeepGoing bool
}

// SendResult says what capture acknowledged.
type SendResult struct {
	// Requests is the number of requests that got a 2xx answer.
	Requests int
	// Acked are the uuids of events in requests answered 2xx.
	Acked []string
	// Status counts every answer by HTTP status, retries included.
	Status map[int]int
	// ByEncoding counts acknowledged events per encoding.
	ByEncoding map[phclient.Encoding]int
	// Refused are the uuids of events whose request was refused for good
	// (only with KeepGoing), and RefusedErrors the first few reasons.
	Refused       []string
	RefusedErrors []string
}

// Send delivers events to captureURL with token, in a seeded mix of single-event
// requests (/e/, /i/v0/e/, /capture/) and batches (/batch/), in every encoding.
// It fails if any request is refused for a reason other than 429/503 after retries.
func Send(ctx context.Context, captureURL, token string, events []phclient.Event, opts SendOptions) (SendResult, error) {
	if opts.Concurrency == 0 {
		opts.Concurrency = 8
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 50
	}
	if len(opts.Encodings) == 0 {
		opts.Encodings = phclient.Encodings
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Retries == 0 {
		opts.Retries = 5
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 7))
	type job struct {
		path   string
		events []phclient.Event
		enc    phclient.Encoding
		body   []byte
	}
	var jobs []job
	singles := []string{"/e/", "/i/v0/e/", "/capture/", "/track"}
	for i := 0; i < len(events); {
		enc := opts.Encodings[rng.IntN(len(opts.Encodings))]
		if rng.IntN(4) == 0 { // a quarter of requests carry one event
			body, err := phclient.EventBody(token, events[i])
			if err != nil {
				return SendResult{}, err
			}
			jobs = append(jobs, job{singles[rng.IntN(len(singles))], events[i : i+1], enc, body})
			i++
			continue
		}
		n := min(1+rng.IntN(opts.MaxBatch), len(events)-i)
		body, err := phclient.BatchBody(token, events[i:i+n], time.Now())
		if err != nil {
			return SendResult{}, err
		}
		jobs = append(jobs, job{"/batch/", events[i : i+n], enc, body})
		i += n
	}

	res := SendResult{Status: map[int]int{}, ByEncoding: map[phclient.Encoding]int{}}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	if opts.Pace == 0 && opts.Over > 0 && len(jobs) > 0 {
		opts.Pace = max(time.Millisecond, opts.Over/time.Duration(len(jobs)))
	}
	var pace <-chan time.Time
	if opts.Pace > 0 {
		t := time.NewTicker(opts.Pace)
		defer t.Stop()
		pace = t.C
	}
	for _, j := range jobs {
		if pace != nil {
			select {
			case <-gctx.Done():
			case <-pace:
			}
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			first := time.Now()
			for attempt := 0; ; attempt++ {
				req, err := phclient.NewRequest(gctx, captureURL, j.path, j.body, j.enc)
				if err != nil {
					return err
				}
				status, msg, err := do(opts.Client, req)
				mu.Lock()
				if err == nil {
					res.Status[status]++
				}
				mu.Unlock()
				retryable := err != nil || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
				if err == nil && status/100 == 2 {
					mu.Lock()
					res.Requests++
					res.ByEncoding[j.enc] += len(j.events)
					for _, ev := range j.events {
						res.Acked = append(res.Acked, ev.UUID)
					}
					mu.Unlock()
					return nil
				}
				exhausted := attempt >= opts.Retries
				if opts.RetryFor > 0 {
					exhausted = time.Since(first) >= opts.RetryFor
				}
				if !retryable || exhausted {
					if err == nil {
						err = fmt.Errorf("HTTP %d: %s", status, msg)
					}
					err = fmt.Errorf("send %d events to %s (%s): %w", len(j.events), j.path, j.enc, err)
					if !opts.KeepGoing || gctx.Err() != nil {
						return err
					}
					mu.Lock()
					for _, ev := range j.events {
						res.Refused = append(res.Refused, ev.UUID)
					}
					if len(res.RefusedErrors) < 5 {
						res.RefusedErrors = append(res.RefusedErrors, err.Error())
					}
					mu.Unlock()
					return nil
				}
				select {
				case <-gctx.Done():
					return gctx.Err()
				case <-time.After(min(time.Second, time.Duration(50*(attempt+1))*time.Millisecond)):
				}
			}
		})
	}
	err := g.Wait()
	return res, err
}

func do(c *http.Client, req *http.Request) (int, string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(msg), nil
}
