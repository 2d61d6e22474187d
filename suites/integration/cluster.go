package integration

import (
	"context"

	"k8s.io/client-go/rest"
)

// Cluster is a running Kubernetes cluster the runner installs into. The
// providers of internal/cluster satisfy it.
type Cluster interface {
	RESTConfig() *rest.Config
	// Version is the server's Kubernetes version, e.g. "1.34.4".
	Version() string
	Close(ctx context.Context) error
}

// ClusterStarter starts, or attaches to, a cluster of a Kubernetes version.
type ClusterStarter func(ctx context.Context, version string) (Cluster, error)

// ExistingCluster adapts an already running cluster to a ClusterStarter
// that hands it out for every version and never closes it.
func ExistingCluster(cfg *rest.Config, version string) ClusterStarter {
	return func(context.Context, string) (Cluster, error) {
		return existing{cfg: cfg, version: version}, nil
	}
}

type existing struct {
	cfg     *rest.Config
	version string
}

func (e existing) RESTConfig() *rest.Config    { return e.cfg }
func (e existing) Version() string             { return e.version }
func (e existing) Close(context.Context) error { return nil }
