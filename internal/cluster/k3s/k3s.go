// Package k3s is the cluster provider running k3s in a container through
// testcontainers-go. It needs a Docker engine; without one Start fails with
// ErrNoDocker (tests skip with testcontainers.SkipIfProviderIsNotHealthy).
package k3s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/moby/client"

	"github.com/testcontainers/testcontainers-go"
	tck3s "github.com/testcontainers/testcontainers-go/modules/k3s"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
	"github.com/shakedown-dev/shakedown/internal/dockerd"
)

// ErrImageUnavailable means the k3s image is neither in the engine nor pullable (a
// machine without a container registry): build or load it, or use the local provider.
var ErrImageUnavailable = errors.New("k3s cluster: image unavailable")

// ErrNoDocker means no healthy Docker engine was found.
var ErrNoDocker = errors.New("k3s cluster: no healthy Docker engine (start Docker or set DOCKER_HOST; or use the local cluster provider, which needs none)")

// Options configures Start.
type Options struct {
	// Version is the Kubernetes version, e.g. "1.31.2"; the image is
	// rancher/k3s:v<Version>-k3s1. Ignored when Image is set.
	Version string
	// Image overrides the k3s image.
	Image string
}

// Cluster is a running k3s container.
type Cluster struct {
	container *tck3s.K3sContainer
	dir       string
	path      string
	version   string
	rest      *rest.Config
}

// Start checks for a Docker engine, runs k3s and waits until it serves.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if err := dockerHealthy(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	image := opts.Image
	if image == "" {
		v, err := kubebin.NormalizeVersion(opts.Version)
		if err != nil {
			return nil, fmt.Errorf("k3s cluster: %w", err)
		}
		image = "rancher/k3s:v" + v + "-k3s1"
	}
	if err := imageAvailable(ctx, image); err != nil {
		return nil, err
	}
	ctr, err := tck3s.Run(ctx, image)
	if err != nil {
		if ctr != nil {
			_ = ctr.Terminate(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("k3s cluster: run %s: %w", image, err)
	}
	c := &Cluster{container: ctr}
	if err := c.connect(ctx); err != nil {
		_ = c.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("k3s cluster %s: %w", image, err)
	}
	return c, nil
}

func (c *Cluster) connect(ctx context.Context) error {
	data, err := c.container.GetKubeConfig(ctx)
	if err != nil {
		return fmt.Errorf("read kubeconfig: %w", err)
	}
	if c.dir, err = os.MkdirTemp("", "shakedown-k3s-"); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	c.path = filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(c.path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if c.rest, err = clientcmd.RESTConfigFromKubeConfig(data); err != nil {
		return fmt.Errorf("parse kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(c.rest)
	if err != nil {
		return err
	}
	info, err := cs.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("ask for the server version: %w", err)
	}
	c.version = info.GitVersion
	return nil
}

// imageAvailable makes sure image is in the engine, pulling it when missing, and turns
// testcontainers' reaper off when its image cannot be had either.
func imageAvailable(ctx context.Context, image string) error {
	c, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	defer c.Close()
	// testcontainers falls back to other sockets when DOCKER_HOST does not answer; the
	// engine named by DOCKER_HOST (or the default socket) is the one used here.
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	if err := dockerd.ConfigureTestcontainers(ctx, c); err != nil {
		return err
	}
	if _, err := c.ImageInspect(ctx, image); err == nil {
		return nil
	}
	pullCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	res, err := c.ImagePull(pullCtx, image, client.ImagePullOptions{})
	if err == nil {
		err = res.Wait(pullCtx)
	}
	if err != nil {
		return fmt.Errorf("%w: %s is not in the Docker engine and pulling it failed (%v): `docker load` it from a machine that has it, or use the local cluster provider", ErrImageUnavailable, image, err)
	}
	return nil
}

// dockerHealthy asks testcontainers' default provider for a health check; the
// provider panics on some broken set-ups, which counts as unhealthy.
func dockerHealthy(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker provider: %v", r)
		}
	}()
	p, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Health(ctx)
}

// RESTConfig returns a copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.rest) }

// KubeconfigPath is the admin kubeconfig written from the container.
func (c *Cluster) KubeconfigPath() string { return c.path }

// Version is the server's version, e.g. "v1.31.2+k3s1".
func (c *Cluster) Version() string { return c.version }

// Namespace is "default": the whole cluster belongs to the run.
func (c *Cluster) Namespace() string { return "default" }

// Close terminates the container and removes the kubeconfig.
func (c *Cluster) Close(ctx context.Context) error {
	var err error
	if c.container != nil {
		if terr := c.container.Terminate(ctx); terr != nil {
			err = fmt.Errorf("terminate k3s container: %w", terr)
		}
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
	return err
}
