package kubebin

import (
	"context"
	"fmt"
)

// Kwok returns the path of the kwok binary (Options.KwokVersion, default
// DefaultKwokVersion), building it with `go install` — which uses the exact client
// libraries kwok's go.mod pins — when missing.
func (c *Cache) Kwok(ctx context.Context) (string, error) {
	path, err := c.goInstall(ctx, "kwok", c.opts.KwokVersion, "sigs.k8s.io/kwok/cmd/kwok")
	if err != nil {
		return "", fmt.Errorf("%w; retry with `shakedown cluster build`", err)
	}
	return path, nil
}
