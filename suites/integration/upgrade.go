package integration

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
)

// Upgrade upgrades a release to a chart and values and waits until every
// resource is ready or the timeout passes.
type Upgrade struct {
	Target      Target
	ReleaseName string
	Chart       *chart.Chart
	Values      map[string]any
	// Timeout bounds the wait; zero means DefaultTimeout.
	Timeout time.Duration
}

// Run performs the upgrade.
func (u *Upgrade) Run(ctx context.Context) (*Release, error) {
	cfg, err := newActionConfig(u.Target)
	if err != nil {
		return nil, err
	}
	a := action.NewUpgrade(cfg)
	a.Namespace = u.Target.Namespace
	a.Timeout = timeoutOr(u.Timeout)
	a.WaitStrategy = kube.StatusWatcherStrategy
	a.WaitForJobs = true
	a.MaxHistory = 10
	rel, err := a.RunWithContext(ctx, u.ReleaseName, u.Chart, u.Values)
	if err != nil {
		return nil, fmt.Errorf("integration: upgrade release %s to chart %s in namespace %s: %w%s",
			u.ReleaseName, chartRef(u.Chart), u.Target.Namespace, err, diagnose(ctx, u.Target))
	}
	return fromHelm(rel)
}
