package images

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// pausePackage is the sandbox process's main package, inside this module.
const pausePackage = "./internal/images/pause"

// pauseRecipe builds the static pause binary (its hash is the key) and loads it as the
// only file of an image, the sandbox image of a real node's containerd.
func pauseRecipe(ctx context.Context, opts Options) (recipe, error) {
	tmp, bin, binHash, cleanup, err := buildStatic(ctx, opts, "pause", pausePackage, "pause")
	if err != nil {
		return recipe{}, err
	}
	key := keyOf(recipeVersion, "pause", opts.Arch, binHash)
	return recipe{key: key, cleanup: cleanup, build: func(ctx context.Context, opts Options, img *Image) error {
		opts.Step(fmt.Sprintf("loading %s (linux/%s)", opts.Tag, opts.Arch))
		layer := filepath.Join(tmp, "layer.tar")
		if err := writeSingleFileRoot(layer, bin, "pause"); err != nil {
			return fmt.Errorf("write the image root: %w", err)
		}
		return loadRoot(ctx, opts, opts.Tag, layer, imageConfig{
			Entrypoint: []string{"/pause"},
			User:       "65535:65535",
			Labels:     map[string]string{KeyLabel: key, "org.opencontainers.image.source": SourceRepository},
		}, img)
	}}, nil
}

// writeSingleFileRoot writes a root holding only the executable bin as /name.
func writeSingleFileRoot(dst, bin, name string) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	in, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: st.Size(), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, in); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return out.Close()
}
