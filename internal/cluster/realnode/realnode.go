// Package realnode prepares what a real node of a local cluster needs from this
// machine: the kubelet, kube-proxy and CoreDNS binaries (kubebin), and the images its
// pods run, built into the local Docker engine (internal/images) and imported into the
// node's containerd, since no image can be pulled.
package realnode

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
	"github.com/shakedown-dev/shakedown/internal/cluster/local"
	"github.com/shakedown-dev/shakedown/internal/dockerd"
	"github.com/shakedown-dev/shakedown/internal/images"
)

// Options configures Prepare.
type Options struct {
	// Binaries finds or builds the node binaries (required).
	Binaries *kubebin.Cache
	// Images are the images to import (default images.Names: the reference stack's and
	// the pause image).
	Images []string
	// SourceDir is the shakedown module the reference and pause images are built from
	// (default: found upward from the working directory).
	SourceDir string
	// DockerHost is the engine holding the images (default $DOCKER_HOST, else the local
	// socket; started when none answers, as root).
	DockerHost string
	// Step is told each image build step as it begins (may be nil).
	Step func(string)
	// Log receives the engine's notes (may be nil); ImageLog the image builds' tool
	// output (may be nil).
	Log, ImageLog io.Writer
}

// Prepare returns the real-node options of a local cluster of Kubernetes version: it
// checks this machine can run a node, gets the node binaries and builds the images
// (minutes on a new machine: this is why it comes before the cluster's start-up
// timeout), so that the node only has to import them. Call release once the cluster
// has started: it lets go of the Docker engine (stopping it if Prepare started it).
func Prepare(ctx context.Context, version string, opts Options) (*local.RealNodeOptions, func(), error) {
	if opts.Binaries == nil {
		return nil, nil, fmt.Errorf("realnode: no binary cache")
	}
	if err := local.CheckRealNodeHost(local.RealNodeOptions{}); err != nil {
		return nil, nil, err
	}
	bins, err := opts.Binaries.Node(ctx, version)
	if err != nil {
		return nil, nil, err
	}
	host := opts.DockerHost
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	engine, err := dockerd.Ensure(ctx, dockerd.Options{Host: host, Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("real node: the images are built in a Docker engine: %w", err)
	}
	docker, err := engine.Client()
	if err != nil {
		_ = engine.Release()
		return nil, nil, err
	}
	release := func() {
		docker.Close()
		if err := engine.Release(); err != nil {
			fmt.Fprintln(log, "shakedown:", err)
		}
	}
	names := opts.Images
	if len(names) == 0 {
		names = images.Names
	}
	if !slices.Contains(names, images.Pause) { // every pod's sandbox
		names = append(slices.Clone(names), images.Pause)
	}
	var imgs []images.Image
	for _, name := range names {
		img, err := images.Ensure(ctx, name, images.Options{Docker: docker, SourceDir: opts.SourceDir, Step: opts.Step, Log: opts.ImageLog})
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("real node: %w", err)
		}
		imgs = append(imgs, img)
	}
	return &local.RealNodeOptions{
		Binaries:     bins,
		SandboxImage: images.DefaultPauseTag,
		LoadImages: func(ctx context.Context, importImage local.ImageImporter) error {
			return images.Export(ctx, docker, imgs, func(ctx context.Context, archive io.Reader) error { return importImage(ctx, archive) })
		},
	}, release, nil
}
