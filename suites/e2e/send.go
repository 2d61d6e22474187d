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
	for _, j := range jobs {
		g.Go(func() error {
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
				if !retryable || attempt >= opts.Retries {
					if err != nil {
						return fmt.Errorf("send %d events to %s (%s): %w", len(j.events), j.path, j.enc, err)
					}
					return fmt.Errorf("send %d events to %s (%s): HTTP %d: %s", len(j.events), j.path, j.enc, status, msg)
				}
				select {
				case <-gctx.Done():
					return gctx.Err()
				case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
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
