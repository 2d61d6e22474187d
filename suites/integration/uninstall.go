package integration

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
)

// LeftoverWait bounds how long Uninstall waits for garbage collection (pods,
// ReplicaSets, EndpointSlices, PVCs of StatefulSets) to empty the namespace.
const LeftoverWait = time.Minute

// Uninstall deletes a release, waits for its objects to be gone (dependents
// first), then checks that nothing is left behind: no namespaced object
// beyond what Kubernetes puts in every namespace, none of the release's
// cluster-scoped objects, no PersistentVolume still claimed from the
// namespace.
type Uninstall struct {
	Target      Target
	ReleaseName string
	// Timeout bounds the wait and the leftover check; zero means DefaultTimeout.
	Timeout time.Duration
	// IgnoreNotFound succeeds when the release does not exist (e.g. after an
	// install that failed before recording it); leftovers are still checked.
	IgnoreNotFound bool
}

// Run performs the uninstall.
func (u *Uninstall) Run(ctx context.Context) error {
	cfg, err := newActionConfig(u.Target)
	if err != nil {
		return err
	}
	var manifest string
	if rel, err := cfg.Releases.Last(u.ReleaseName); err == nil {
		if r, err := fromHelm(rel); err == nil {
			manifest = r.Manifest
		}
	}
	a := action.NewUninstall(cfg)
	a.Timeout = timeoutOr(u.Timeout)
	// Helm's own wait-for-delete (the kstatus watcher) was seen here to give up after
	// half a second on a StatefulSet still Terminating; the leftover check below is the
	// wait instead: it polls until every object of the release is really gone.
	a.WaitStrategy = kube.HookOnlyStrategy
	a.DeletionPropagation = "foreground"
	a.IgnoreNotFound = u.IgnoreNotFound
	if err := runCtx(ctx, func() error { _, err := a.Run(u.ReleaseName); return err }); err != nil {
		return fmt.Errorf("integration: uninstall release %s in namespace %s: %w", u.ReleaseName, u.Target.Namespace, err)
	}
	err = Eventually(ctx, min(timeoutOr(u.Timeout), LeftoverWait), time.Second, func(ctx context.Context) error {
		return NoLeftovers(ctx, u.Target, manifest)
	})
	if err != nil {
		return fmt.Errorf("integration: uninstall release %s: %w", u.ReleaseName, err)
	}
	return nil
}
