package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// cell runs the steps for one Kubernetes version × cloud in its own namespace.
type cell struct {
	opts           Options
	from           string
	version, cloud string
	cluster        Cluster
	add            func(Row)

	target    Target
	kube      kubernetes.Interface
	installed *Release // revision installed by StepInstall
	failed    Step     // first failed step, "" while all pass
	note      string   // what a passing step measured, for its row
}

// run executes the selected steps; after a failure the rest are skipped,
// except uninstall when something was installed.
func (c *cell) run(ctx context.Context) {
	if err := c.setup(ctx); err != nil {
		for _, s := range c.opts.Steps {
			c.add(Row{KubeVersion: c.version, Cloud: c.cloud, Step: s, Status: StatusFail, Message: err.Error()})
		}
		return
	}
	defer c.teardown(ctx)
	steps := map[Step]func(context.Context) error{
		StepDryRun: c.dryRun, StepInstall: c.install, StepAssert: c.assert, StepTraffic: c.traffic,
		StepUpgrade: c.upgrade, StepRollback: c.rollback, StepUninstall: c.uninstall,
	}
	for _, s := range c.opts.Steps {
		row := Row{KubeVersion: c.version, Cloud: c.cloud, Step: s}
		if c.failed != "" && !(s == StepUninstall && c.installed != nil) {
			row.Status, row.Message = StatusSkip, fmt.Sprintf("skipped after %s failed", c.failed)
			c.add(row)
			continue
		}
		t0 := time.Now()
		sctx, cancel := context.WithTimeout(ctx, timeoutOr(c.opts.StepTimeout)+time.Minute)
		err := steps[s](sctx)
		cancel()
		row.Duration = time.Since(t0)
		row.Status = StatusPass
		row.Message, c.note = c.note, ""
		if err != nil {
			row.Status, row.Message = StatusFail, err.Error()
			if c.failed == "" {
				c.failed = s
			}
		}
		c.add(row)
	}
}

// setup creates the cell's namespace and clients.
func (c *cell) setup(ctx context.Context) error {
	ns := "sd-" + sanitizeName(c.cloud) + "-" + randSuffix()
	c.target = Target{Config: c.cluster.RESTConfig(), Namespace: ns}
	kube, err := c.target.Clientset()
	if err != nil {
		return err
	}
	c.kube = kube
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "shakedown"},
	}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create namespace %s on Kubernetes %s: %w", ns, c.version, err)
	}
	return nil
}

// teardown deletes the cell's namespace (and whatever a failed run left in it).
func (c *cell) teardown(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := c.kube.CoreV1().Namespaces().Delete(ctx, c.target.Namespace, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		fmt.Fprintf(c.opts.Log, "warning: delete namespace %s: %v\n", c.target.Namespace, err)
	}
}

// chart loads a chart and its values for the cell's cloud.
func (c *cell) chart(path string) (*chart.Chart, map[string]any, error) {
	ch, err := loader.Load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load chart %s: %w", path, err)
	}
	cloud := c.cloud
	if cloud == NoCloud {
		cloud = ""
	}
	vals, err := ChartValues(ch, cloud, c.opts.ValuesFiles, c.opts.Values)
	if err != nil {
		return nil, nil, err
	}
	return ch, vals, nil
}

func (c *cell) dryRun(ctx context.Context) error {
	ch, vals, err := c.chart(c.opts.ChartDir)
	if err != nil {
		return err
	}
	rel, err := (&Install{Target: c.target, ReleaseName: c.opts.ReleaseName, Chart: ch, Values: vals, DryRun: true}).Run(ctx)
	if err != nil {
		return err
	}
	dyn, err := c.target.Dynamic()
	if err != nil {
		return err
	}
	return ServerSideDryRun(ctx, c.kube, dyn, c.target.Namespace, rel.Manifest)
}

func (c *cell) install(ctx context.Context) error {
	ch, vals, err := c.chart(c.from)
	if err != nil {
		return err
	}
	rel, err := (&Install{Target: c.target, ReleaseName: c.opts.ReleaseName, Chart: ch, Values: vals, Timeout: c.opts.StepTimeout}).Run(ctx)
	if rel != nil {
		c.installed = rel
	} else {
		c.installed = &Release{Name: c.opts.ReleaseName} // a failed install still leaves a release to uninstall
	}
	if err != nil {
		return err
	}
	return c.settled(ctx)
}

func (c *cell) upgrade(ctx context.Context) error {
	ch, vals, err := c.chart(c.opts.ChartDir)
	if err != nil {
		return err
	}
	if _, err := (&Upgrade{Target: c.target, ReleaseName: c.opts.ReleaseName, Chart: ch, Values: vals, Timeout: c.opts.StepTimeout}).Run(ctx); err != nil {
		return err
	}
	return c.settled(ctx)
}

func (c *cell) rollback(ctx context.Context) error {
	if c.installed == nil || c.installed.Revision == 0 {
		return errors.New("nothing installed to roll back to (fix: run the install step)")
	}
	rel, err := (&Rollback{Target: c.target, ReleaseName: c.opts.ReleaseName, Revision: c.installed.Revision, Timeout: c.opts.StepTimeout}).Run(ctx)
	if err != nil {
		return err
	}
	if rel.ChartVersion != c.installed.ChartVersion {
		return fmt.Errorf("release %s after rollback runs chart %s, want %s of revision %d (fix: check Helm's release history in namespace %s)",
			rel.Name, rel.ChartVersion, c.installed.ChartVersion, c.installed.Revision, c.target.Namespace)
	}
	return c.settled(ctx)
}

func (c *cell) uninstall(ctx context.Context) error {
	failedInstall := c.installed != nil && c.installed.Revision == 0
	return (&Uninstall{Target: c.target, ReleaseName: c.opts.ReleaseName, Timeout: c.opts.StepTimeout, IgnoreNotFound: failedInstall}).Run(ctx)
}

// assert runs every assertion, retrying each for a while (EndpointSlices and
// bindings lag behind readiness), and joins their failures.
func (c *cell) assert(ctx context.Context) error {
	checks := []func(context.Context, kubernetes.Interface, string) error{
		WorkloadsReady, ServicesHaveEndpoints, PVCsBound, NetworkPoliciesSelectEveryPod,
		func(ctx context.Context, k kubernetes.Interface, ns string) error {
			return ServiceAccountsLeastPrivilege(ctx, k, ns)
		},
	}
	if CloudHasEncryptedStorage(c.cloud) {
		checks = append(checks, PVCsOnEncryptedStorageClass)
	}
	var errs []error
	for _, check := range checks {
		err := Eventually(ctx, 30*time.Second, time.Second, func(ctx context.Context) error {
			return check(ctx, c.kube, c.target.Namespace)
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// settled waits until WorkloadsReady passes after a Helm step.
func (c *cell) settled(ctx context.Context) error {
	return Eventually(ctx, time.Minute, time.Second, func(ctx context.Context) error {
		return WorkloadsReady(ctx, c.kube, c.target.Namespace)
	})
}

// randSuffix is 6 random hex characters.
func randSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sanitizeName makes s usable in a namespace name.
func sanitizeName(s string) string {
	out := []rune{}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			out = append(out, r)
		case r >= 'A' && r <= 'Z':
			out = append(out, r+'a'-'A')
		default:
			out = append(out, '-')
		}
	}
	if len(out) > 40 {
		out = out[:40]
	}
	return string(out)
}
