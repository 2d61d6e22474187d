package e2e_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/internal/stack/local/localtest"
	"github.com/shakedown-dev/shakedown/suites/e2e"
)

// TestRunPassesOnAHealthyStackAndFailsWhenNothingIsStored is the layer's
// library entry point on a real stack: a healthy one stores every
// acknowledged event once; with the worker stopped, Run says how many were
// not stored.
func TestRunPassesOnAHealthyStackAndFailsWhenNothingIsStored(t *testing.T) {
	s := localtest.Up(t, local.Options{})
	opts := e2e.Options{Target: s.Endpoints.CaptureURL, Token: s.Endpoints.Token, ClickHouse: s.ClickHouse, Database: s.Database,
		Events: 500, People: 40, Seed: 3}
	var steps []string
	opts.Progress = func(s string) { steps = append(steps, s) }
	res, err := e2e.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || res.Failure() != "" || len(res.Sent.Acked) != 500 || res.Stored.Rows != 500 || len(steps) != 2 || res.Seed != 3 {
		t.Fatalf("healthy stack: passed %v (%s), acked %d, stored %d, steps %q", res.Passed(), res.Failure(), len(res.Sent.Acked), res.Stored.Rows, steps)
	}

	if err := s.StopWorker(); err != nil {
		t.Fatal(err)
	}
	defer s.StartWorker()
	opts.Seed, opts.Wait, opts.Progress = 4, 2*time.Second, nil
	res, err = e2e.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed() || !strings.Contains(res.Failure(), "500 of 500 acknowledged events not stored") {
		t.Errorf("worker stopped: passed %v, failure %q", res.Passed(), res.Failure())
	}
	if _, err := e2e.Run(context.Background(), e2e.Options{Target: "http://x"}); !errors.Is(err, e2e.ErrInvalidOptions) {
		t.Errorf("without a token: %v", err)
	}
}
