package integration

import (
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v4/pkg/action"
)

// DefaultTimeout bounds each Helm action's wait when none is given.
const DefaultTimeout = 5 * time.Minute

// newActionConfig is Helm's action configuration for a target: releases are
// stored as Secrets in the target's namespace, Helm's own logs are dropped.
func newActionConfig(t Target) (*action.Configuration, error) {
	if t.Config == nil {
		return nil, fmt.Errorf("integration: target has no REST config (fix: set Target.Config)")
	}
	if t.Namespace == "" {
		return nil, fmt.Errorf("integration: target has no namespace (fix: set Target.Namespace)")
	}
	getter, err := newRESTClientGetter(t)
	if err != nil {
		return nil, fmt.Errorf("integration: clients for %s: %w", t.Config.Host, err)
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	if err := cfg.Init(getter, t.Namespace, "secret"); err != nil {
		return nil, fmt.Errorf("integration: Helm configuration for namespace %s: %w", t.Namespace, err)
	}
	return cfg, nil
}

// timeoutOr returns d, or DefaultTimeout when d is zero.
func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}
