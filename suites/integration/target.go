package integration

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Target is where the layer acts: a cluster's REST config and a namespace.
type Target struct {
	// Config reaches the cluster's API server.
	Config *rest.Config
	// Namespace receives the release and every namespaced object.
	Namespace string
}

// TargetFromKubeconfig builds a Target from a kubeconfig file (its current
// context) and a namespace.
func TargetFromKubeconfig(path, namespace string) (Target, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return Target{}, fmt.Errorf("integration: load kubeconfig %s: %w (fix: pass a readable kubeconfig with a current context)", path, err)
	}
	return Target{Config: cfg, Namespace: namespace}, nil
}

// restConfig is a copy of the target's config with client-side throttling
// raised: discovery and assertions issue bursts of requests.
func (t Target) restConfig() *rest.Config {
	cfg := rest.CopyConfig(t.Config)
	cfg.WarningHandler = rest.NoWarnings{} // deprecation warnings of listed APIs would flood the logs
	if cfg.QPS < 50 {
		cfg.QPS = 50
	}
	if cfg.Burst < 100 {
		cfg.Burst = 100
	}
	return cfg
}

// Clientset returns a typed client for the target's cluster.
func (t Target) Clientset() (kubernetes.Interface, error) {
	if t.Config == nil {
		return nil, fmt.Errorf("integration: target has no REST config (fix: set Target.Config)")
	}
	c, err := kubernetes.NewForConfig(t.restConfig())
	if err != nil {
		return nil, fmt.Errorf("integration: client for %s: %w", t.Config.Host, err)
	}
	return c, nil
}

// Dynamic returns a dynamic client for the target's cluster.
func (t Target) Dynamic() (dynamic.Interface, error) {
	if t.Config == nil {
		return nil, fmt.Errorf("integration: target has no REST config (fix: set Target.Config)")
	}
	c, err := dynamic.NewForConfig(t.restConfig())
	if err != nil {
		return nil, fmt.Errorf("integration: dynamic client for %s: %w", t.Config.Host, err)
	}
	return c, nil
}
