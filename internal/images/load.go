package images

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/moby/client"
)

// imageConfig is the part of the image configuration (the Docker image spec's config
// file) the images here set.
type imageConfig struct {
	Entrypoint   []string
	User         string
	Env          []string
	Labels       map[string]string
	ExposedPorts map[string]struct{}
}

// loadRoot loads a one-layer image for opts.Arch from the root tar in layerPath, as
// `docker load` of a docker-archive. Unlike `docker import`, whose --platform an engine
// honours only when it is multi-platform capable, the archive's configuration names the
// architecture itself, so an arm64 image is built on an amd64 machine.
func loadRoot(ctx context.Context, opts Options, ref, layerPath string, cfg imageConfig, img *Image) error {
	diffID, size, err := fileDigest(layerPath)
	if err != nil {
		return err
	}
	epoch := time.Unix(0, 0).UTC() // the same inputs give the same image id
	config, err := json.Marshal(map[string]any{
		"architecture": opts.Arch,
		"os":           "linux",
		"created":      epoch,
		"config":       cfg,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history":      []map[string]any{{"created": epoch, "created_by": "shakedown images build"}},
	})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{ref}, "Layers": []string{"layer/layer.tar"}}})
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(func() error {
			tw := tar.NewWriter(pw)
			for _, f := range []struct {
				name string
				data []byte
			}{{"config.json", config}, {"manifest.json", manifest}} {
				if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch}); err != nil {
					return err
				}
				if _, err := tw.Write(f.data); err != nil {
					return err
				}
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "layer/", Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
			if err := tw.WriteHeader(&tar.Header{Name: "layer/layer.tar", Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
				return err
			}
			f, err := os.Open(layerPath)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return err
			}
			return tw.Close()
		}())
	}()
	res, err := opts.Docker.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("docker load %s: %w", ref, err)
	}
	return finish(ctx, opts.Docker, "docker load", ref, res, img)
}

// fileDigest returns "sha256:<hex>" of a file and its size.
func fileDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}
