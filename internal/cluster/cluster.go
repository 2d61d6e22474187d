// Package cluster is the seam between test layers and the Kubernetes cluster a chart
// is installed into. Providers:
//
//   - local: a real control plane per Kubernetes version built from the
//     k8s.io/kubernetes module and cached (see cluster/local, cluster/kubebin);
//   - kubeconfig: any existing cluster (kind, EKS, GKE, DOKS, AKS), one namespace per
//     run, deleted on Close;
//   - k3s: a k3s container through testcontainers-go (needs a Docker engine).
package cluster

import (
	"context"

	"k8s.io/client-go/rest"
)

// Cluster is a cluster a test run installs into.
type Cluster interface {
	// RESTConfig is a client configuration with rights to install charts.
	RESTConfig() *rest.Config
	// KubeconfigPath is a kubeconfig file for the same identity (for tools and humans).
	KubeconfigPath() string
	// Version is the server's version as it reports it, e.g. "v1.34.4".
	Version() string
	// Namespace is the namespace this run owns.
	Namespace() string
	// Close releases what the provider made: the whole cluster, or the run's namespace.
	Close(ctx context.Context) error
}
