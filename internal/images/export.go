package images

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/client"
)

// Export hands the `docker save` archive of each image (see Ensure) to load, e.g. to
// import it into a Kubernetes node's containerd.
func Export(ctx context.Context, docker *client.Client, imgs []Image, load func(ctx context.Context, archive io.Reader) error) error {
	for _, img := range imgs {
		saved, err := docker.ImageSave(ctx, []string{img.Ref})
		if err != nil {
			return fmt.Errorf("save image %s from the engine: %w", img.Ref, err)
		}
		err = load(ctx, saved)
		saved.Close()
		if err != nil {
			return fmt.Errorf("load image %s: %w", img.Ref, err)
		}
	}
	return nil
}
