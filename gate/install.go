package gate

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shakedown-dev/shakedown/result"
	"github.com/shakedown-dev/shakedown/suites/integration"
)

// Cluster is the cluster a release is installed on (the install stage) and
// checked in (go-live's backups).
type Cluster struct {
	// Kubeconfig reaches the cluster (its current context).
	Kubeconfig string
	// Namespace (default "default") and Release (default "shakedown") name
	// the release.
	Namespace, Release string
	// Cloud picks the chart's overlay values/<cloud>.yaml; Values are values
	// files applied after it, later ones winning.
	Cloud  string
	Values []string
	// Timeout bounds the wait for every resource to be ready (default
	// integration.DefaultTimeout).
	Timeout time.Duration
}

func (c *Cluster) defaults() {
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Release == "" {
		c.Release = "shakedown"
	}
}

// install installs the chart as the release, or upgrades the release when
// it exists, and waits until every resource is ready.
func (r *runner) install(ctx context.Context) bool {
	cl := r.opts.Cluster
	r.step(StageInstall, fmt.Sprintf("%s in namespace %s", cl.Release, cl.Namespace))
	c := r.check(StageInstall, "integration", "install or upgrade "+cl.Release, func() result.Check {
		if r.opts.Chart == "" {
			return result.Check{Status: result.Error, Summary: "the install stage needs the release's chart (--chart DIR)"}
		}
		target, err := integration.TargetFromKubeconfig(cl.Kubeconfig, cl.Namespace)
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		tmp, err := os.MkdirTemp("", "shakedown-gate-")
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		defer os.RemoveAll(tmp)
		ch, err := integration.LoadChart(ctx, r.opts.Chart, r.opts.Chart, tmp)
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		values, err := integration.ChartValues(ch, cl.Cloud, cl.Values, nil)
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		exists, err := releaseExists(ctx, target, cl.Release)
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		var rel *integration.Release
		action := "installed"
		if exists {
			action = "upgraded"
			rel, err = (&integration.Upgrade{Target: target, ReleaseName: cl.Release, Chart: ch, Values: values, Timeout: cl.Timeout}).Run(ctx)
		} else {
			rel, err = (&integration.Install{Target: target, ReleaseName: cl.Release, Chart: ch, Values: values, Timeout: cl.Timeout}).Run(ctx)
		}
		if err != nil {
			verb := map[string]string{"installed": "install", "upgraded": "upgrade"}[action]
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("%s %s: %v", verb, cl.Release, firstLine(err.Error())),
				Evidence: strings.Split(err.Error(), "\n")}
		}
		return result.Check{Status: result.Pass,
			Measurements: []result.Measurement{{Name: "revision", Value: float64(rel.Revision), Pass: true}},
			Summary:      fmt.Sprintf("%s %s %s (chart %s %s) as revision %d; every resource ready", action, rel.Namespace, rel.Name, rel.Chart, rel.ChartVersion, rel.Revision)}
	})
	return c.Status == result.Pass
}

// releaseExists tells whether Helm has a record of the release in the
// target's namespace (its storage Secrets).
func releaseExists(ctx context.Context, t integration.Target, release string) (bool, error) {
	kube, err := t.Clientset()
	if err != nil {
		return false, err
	}
	s, err := kube.CoreV1().Secrets(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		return false, fmt.Errorf("look for release %s in namespace %s: %w", release, t.Namespace, err)
	}
	return len(s.Items) > 0, nil
}

// backups requires a CronJob of the release whose name says it backs up.
func (r *runner) backups(ctx context.Context, required bool) result.Check {
	cl := r.opts.Cluster
	if cl == nil || cl.Kubeconfig == "" {
		return result.Check{Status: result.Skip, Summary: "a backup CronJob is checked on a release in a cluster (--kubeconfig, --release), which this gate was not given"}
	}
	if !required {
		return result.Check{Status: result.Skip, Summary: "backups not required by the gate file (require_backups: false)"}
	}
	target, err := integration.TargetFromKubeconfig(cl.Kubeconfig, cl.Namespace)
	if err != nil {
		return result.Check{Status: result.Error, Summary: err.Error()}
	}
	kube, err := target.Clientset()
	if err != nil {
		return result.Check{Status: result.Error, Summary: err.Error()}
	}
	jobs, err := kube.BatchV1().CronJobs(cl.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + cl.Release})
	if err != nil {
		return result.Check{Status: result.Error, Summary: fmt.Sprintf("list the release's CronJobs: %v", err)}
	}
	var names, backups []string
	for _, j := range jobs.Items {
		names = append(names, j.Name)
		if strings.Contains(strings.ToLower(j.Name), "backup") {
			backups = append(backups, fmt.Sprintf("%s (%s)", j.Name, j.Spec.Schedule))
		}
	}
	if len(backups) == 0 {
		return result.Check{Status: result.Fail, Evidence: []string{fmt.Sprintf("CronJobs of the release: %v", names)},
			Summary: fmt.Sprintf("release %s has no backup CronJob (labelled app.kubernetes.io/instance=%s, named *backup*): schedule backups of ClickHouse and PostgreSQL, or set require_backups: false", cl.Release, cl.Release)}
	}
	return result.Check{Status: result.Pass, Summary: "backups scheduled: " + strings.Join(backups, ", ")}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
