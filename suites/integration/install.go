package integration

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
)

// Install installs a chart as a new release and waits until every resource is
// ready (watch-based, Jobs included) or the timeout passes.
type Install struct {
	Target      Target
	ReleaseName string
	Chart       *chart.Chart
	Values      map[string]any
	// Timeout bounds the wait; zero means DefaultTimeout.
	Timeout time.Duration
	// DryRun renders and validates on the server without creating anything.
	DryRun bool
}

// Run performs the install. On a failed wait the error also says which
// workloads are not ready and why.
func (i *Install) Run(ctx context.Context) (*Release, error) {
	cfg, err := newActionConfig(i.Target)
	if err != nil {
		return nil, err
	}
	a := action.NewInstall(cfg)
	a.ReleaseName = i.ReleaseName
	a.Namespace = i.Target.Namespace
	a.Timeout = timeoutOr(i.Timeout)
	a.WaitStrategy = kube.StatusWatcherStrategy
	a.WaitForJobs = true
	if i.DryRun {
		a.DryRunStrategy = action.DryRunServer
		a.WaitStrategy = kube.HookOnlyStrategy
	}
	rel, err := a.RunWithContext(ctx, i.Chart, i.Values)
	if err != nil {
		return nil, fmt.Errorf("integration: install release %s (chart %s) in namespace %s: %w%s",
			i.ReleaseName, chartRef(i.Chart), i.Target.Namespace, err, diagnose(ctx, i.Target))
	}
	return fromHelm(rel)
}

// chartRef names a chart as name-version.
func chartRef(ch *chart.Chart) string {
	if ch == nil || ch.Metadata == nil {
		return "<nil>"
	}
	return ch.Metadata.Name + "-" + ch.Metadata.Version
}
