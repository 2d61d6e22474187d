package kubebin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// Kwok returns the path of the kwok binary (Options.KwokVersion, default
// DefaultKwokVersion), building it with `go install` — which uses the exact client
// libraries kwok's go.mod pins — when missing.
func (c *Cache) Kwok(ctx context.Context) (string, error) {
	v := c.opts.KwokVersion
	what := "kwok " + v
	dir, err := c.entry(ctx, "kwok", v, what, []string{"kwok"}, func(ctx context.Context, out string, log io.Writer) error {
		c.step("building kwok " + v)
		work, err := os.MkdirTemp("", "shakedown-kwokbuild-")
		if err != nil {
			c.fail()
			return fmt.Errorf("create build directory: %w", err)
		}
		defer os.RemoveAll(work)
		err = c.goCmd(ctx, work, "-trimpath -buildvcs=false", []string{"GOBIN=" + out}, log,
			"install", "-p", strconv.Itoa(c.opts.Parallel), "-ldflags", "-s -w", "sigs.k8s.io/kwok/cmd/kwok@v"+v)
		if err != nil {
			c.fail()
			return err
		}
		c.done()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("%w; retry with `shakedown cluster build`", err)
	}
	return filepath.Join(dir, "kwok"), nil
}
