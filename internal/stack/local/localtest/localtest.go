// Package localtest starts local reference stacks for tests.
package localtest

import (
	"context"
	"testing"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// Up starts a local stack for one test (on a free port unless opts.Listen
// says otherwise), fails the test when it cannot, and stops it when the test
// ends.
func Up(t testing.TB, opts local.Options) *local.Stack {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	s, err := local.Up(context.Background(), opts)
	if err != nil {
		t.Fatalf("local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("stop stack: %v", err)
		}
	})
	return s
}
