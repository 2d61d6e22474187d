package cluster

import (
	"context"
	"fmt"

	"github.com/shakedown-dev/shakedown/internal/cluster/k3s"
	"github.com/shakedown-dev/shakedown/internal/cluster/kubeconfig"
	"github.com/shakedown-dev/shakedown/internal/cluster/local"
	"github.com/shakedown-dev/shakedown/internal/progress"
)

// Provider names accepted by Open.
const (
	ProviderLocal      = "local"
	ProviderKubeconfig = "kubeconfig"
	ProviderK3s        = "k3s"
)

// Spec selects and configures a provider.
type Spec struct {
	// Provider is ProviderLocal (default), ProviderKubeconfig or ProviderK3s.
	Provider string
	// Version is the Kubernetes version for local and k3s, e.g. "1.34.4".
	Version string
	// Kubeconfig and Context select an existing cluster for ProviderKubeconfig
	// (default: $KUBECONFIG or ~/.kube/config, current context).
	Kubeconfig, Context string
	// Progress shows build and start-up steps of the local provider; nil is silent.
	Progress *progress.Reporter
}

// Open starts or connects to the cluster spec describes. Close it when done.
func Open(ctx context.Context, spec Spec) (Cluster, error) {
	switch spec.Provider {
	case "", ProviderLocal:
		c, err := local.Start(ctx, local.Options{Version: spec.Version, Progress: spec.Progress})
		if err != nil {
			return nil, err
		}
		return c, nil
	case ProviderKubeconfig:
		c, err := kubeconfig.Open(ctx, kubeconfig.Options{Path: spec.Kubeconfig, Context: spec.Context})
		if err != nil {
			return nil, err
		}
		return c, nil
	case ProviderK3s:
		c, err := k3s.Start(ctx, k3s.Options{Version: spec.Version})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("cluster provider %q: want %s, %s or %s", spec.Provider, ProviderLocal, ProviderKubeconfig, ProviderK3s)
}
