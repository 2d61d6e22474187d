package local

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

// checkVersion records the server's reported version and fails when it is not the one
// built: a binary built without version ldflags reports v0.0.0, which breaks charts'
// .Capabilities.KubeVersion checks.
func (c *Cluster) checkVersion(cs kubernetes.Interface) error {
	info, err := cs.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("ask %s for its version: %w", c.server, err)
	}
	c.gitVersion = info.GitVersion
	if info.GitVersion != "v"+c.version {
		return fmt.Errorf("kube-apiserver reports version %q, want v%s: the cached binary was built without version ldflags; delete it from the cache and run `shakedown cluster build --kubernetes %s`", info.GitVersion, c.version, c.version)
	}
	return nil
}

// waitUsable waits until n nodes are Ready and the default service account exists
// (pods cannot be created before it does).
func (c *Cluster) waitUsable(ctx context.Context, cs kubernetes.Interface, n int) error {
	var last error
	for {
		last = usable(ctx, cs, n)
		if last == nil {
			return nil
		}
		ps := c.procs
		if c.node != nil {
			ps = append(append([]*procs.Process(nil), ps...), c.node.processes()...)
		}
		for _, p := range ps {
			if err := p.ExitError(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not usable (%w): %v; logs in %s", ctx.Err(), last, c.dir)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func usable(ctx context.Context, cs kubernetes.Interface, n int) error {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	ready := 0
	for _, node := range nodes.Items {
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready < n {
		return fmt.Errorf("%d of %d nodes Ready", ready, n)
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("default service account: %w", err)
	}
	return nil
}
