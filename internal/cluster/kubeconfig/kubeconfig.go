// Package kubeconfig is the cluster provider for an existing cluster reached through a
// kubeconfig (kind, EKS, GKE, DOKS, AKS, ...). Each run gets its own namespace, which
// Close deletes; nothing else in the cluster is touched.
package kubeconfig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options configures Open.
type Options struct {
	// Path is the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
	Path string
	// Context selects a context (default: the current one).
	Context string
	// NamespacePrefix starts the run's namespace name (default "shakedown-"); a random
	// suffix follows.
	NamespacePrefix string
	// Namespace, if set, is used as is (created if missing, and then deleted on Close).
	Namespace string
}

// Cluster is an existing cluster with a namespace made for this run.
type Cluster struct {
	path, namespace, version string
	rest                     *rest.Config
	cs                       kubernetes.Interface
	created                  bool
}

// Open connects to the cluster, reads its version and creates the run's namespace.
func Open(ctx context.Context, opts Options) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Path != "" {
		rules.ExplicitPath = opts.Path
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: opts.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig cluster: load kubeconfig %q (context %q): %w; pass --kubeconfig or set KUBECONFIG", opts.Path, opts.Context, err)
	}
	path := opts.Path
	if path == "" {
		path = rules.GetDefaultFilename()
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig cluster %s: client: %w", cfg.Host, err)
	}
	info, err := cs.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig cluster %s: ask for its version (is it reachable?): %w", cfg.Host, err)
	}
	c := &Cluster{path: path, version: info.GitVersion, rest: cfg, cs: cs, namespace: opts.Namespace}
	if c.namespace == "" {
		prefix := opts.NamespacePrefix
		if prefix == "" {
			prefix = "shakedown-"
		}
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		c.namespace = prefix + hex.EncodeToString(b)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "shakedown"}}}
	_, err = cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	switch {
	case err == nil:
		c.created = true
	case apierrors.IsAlreadyExists(err) && opts.Namespace != "":
	default:
		return nil, fmt.Errorf("kubeconfig cluster %s: create namespace %s: %w", cfg.Host, c.namespace, err)
	}
	return c, nil
}

// RESTConfig returns a copy of the client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.rest) }

// KubeconfigPath is the kubeconfig file used.
func (c *Cluster) KubeconfigPath() string { return c.path }

// Version is the server's version, e.g. "v1.30.2-eks-1234".
func (c *Cluster) Version() string { return c.version }

// Namespace is the run's namespace.
func (c *Cluster) Namespace() string { return c.namespace }

// Close deletes the run's namespace (if Open created it) and waits, until ctx ends,
// for it to be gone.
func (c *Cluster) Close(ctx context.Context) error {
	if !c.created {
		return nil
	}
	fg := metav1.DeletePropagationForeground
	err := c.cs.CoreV1().Namespaces().Delete(ctx, c.namespace, metav1.DeleteOptions{PropagationPolicy: &fg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", c.namespace, err)
	}
	for {
		_, err := c.cs.CoreV1().Namespaces().Get(ctx, c.namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s still terminating: %w", c.namespace, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
