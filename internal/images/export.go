package images

import (
	"context"
	"fmt"
	"io"
)

// Export ensures each named image (see Ensure) and hands its `docker save` archive to
// load, e.g. to import it into a Kubernetes node's containerd. It returns the images.
func Export(ctx context.Context, names []string, opts Options, load func(ctx context.Context, archive io.Reader) error) ([]Image, error) {
	var out []Image
	for _, name := range names {
		img, err := Ensure(ctx, name, opts)
		if err != nil {
			return out, err
		}
		if opts.Step != nil {
			opts.Step(fmt.Sprintf("exporting %s", img.Ref))
		}
		saved, err := opts.Docker.ImageSave(ctx, []string{img.Ref})
		if err != nil {
			return out, fmt.Errorf("save image %s from the engine: %w", img.Ref, err)
		}
		err = load(ctx, saved)
		saved.Close()
		if err != nil {
			return out, fmt.Errorf("load image %s: %w", img.Ref, err)
		}
		out = append(out, img)
	}
	return out, nil
}
