package integration

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
)

// Rollback rolls a release back to an earlier revision and waits until every
// resource is ready or the timeout passes.
type Rollback struct {
	Target      Target
	ReleaseName string
	// Revision to roll back to; zero means the previous one.
	Revision int
	// Timeout bounds the wait; zero means DefaultTimeout.
	Timeout time.Duration
}

// Run performs the rollback and returns the new (current) release revision.
func (r *Rollback) Run(ctx context.Context) (*Release, error) {
	cfg, err := newActionConfig(r.Target)
	if err != nil {
		return nil, err
	}
	a := action.NewRollback(cfg)
	a.Version = r.Revision
	a.Timeout = timeoutOr(r.Timeout)
	a.WaitStrategy = kube.StatusWatcherStrategy
	a.WaitForJobs = true
	a.MaxHistory = 10
	if err := runCtx(ctx, func() error { return a.Run(r.ReleaseName) }); err != nil {
		return nil, fmt.Errorf("integration: roll back release %s to revision %d in namespace %s: %w%s",
			r.ReleaseName, r.Revision, r.Target.Namespace, err, diagnose(ctx, r.Target))
	}
	rel, err := cfg.Releases.Last(r.ReleaseName)
	if err != nil {
		return nil, fmt.Errorf("integration: read release %s after rollback: %w", r.ReleaseName, err)
	}
	return fromHelm(rel)
}

// runCtx runs f, which does not take a context, returning early with the
// context's error if it ends first (f's own timeout still bounds it).
func runCtx(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
