package integration

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restClientGetter gives Helm's kube client a fixed REST config and namespace,
// with no kubeconfig file or flags involved.
type restClientGetter struct {
	config    *rest.Config
	namespace string
	discovery discovery.CachedDiscoveryInterface
}

var _ genericclioptions.RESTClientGetter = (*restClientGetter)(nil)

// newRESTClientGetter builds the getter for a target.
func newRESTClientGetter(t Target) (*restClientGetter, error) {
	cfg := t.restConfig()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &restClientGetter{config: cfg, namespace: t.Namespace, discovery: memory.NewMemCacheClient(dc)}, nil
}

func (g *restClientGetter) ToRESTConfig() (*rest.Config, error) {
	return rest.CopyConfig(g.config), nil
}

func (g *restClientGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

func (g *restClientGetter) ToRESTMapper() (meta.RESTMapper, error) {
	m := restmapper.NewDeferredDiscoveryRESTMapper(g.discovery)
	return restmapper.NewShortcutExpander(m, g.discovery, nil), nil
}

func (g *restClientGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return fixedClientConfig{config: g.config, namespace: g.namespace}
}

// fixedClientConfig is a clientcmd.ClientConfig answering with a fixed config
// and namespace.
type fixedClientConfig struct {
	config    *rest.Config
	namespace string
}

func (c fixedClientConfig) RawConfig() (clientcmdapi.Config, error) {
	return clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"target": {Server: c.config.Host}},
		Contexts:       map[string]*clientcmdapi.Context{"target": {Cluster: "target", Namespace: c.namespace}},
		CurrentContext: "target",
	}, nil
}

func (c fixedClientConfig) ClientConfig() (*rest.Config, error) {
	return rest.CopyConfig(c.config), nil
}

func (c fixedClientConfig) Namespace() (string, bool, error) { return c.namespace, true, nil }

func (c fixedClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return clientcmd.NewDefaultClientConfigLoadingRules()
}
