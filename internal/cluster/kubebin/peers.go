package kubebin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Peer tools: the programs whose verdicts shakedown's layers are compared with in
// their conformance tests, built from their Go modules like the control planes.
const (
	// HelmUnittestModule is helm-unittest's module, whose engine the unit layer embeds.
	HelmUnittestModule = "github.com/helm-unittest/helm-unittest"
	// YqModule is mikefarah's yq, the post-renderer of helm-unittest's own test charts.
	YqModule = "github.com/mikefarah/yq/v4"
	// DefaultYqVersion is the yq built by Yq.
	DefaultYqVersion = "4.54.3"
)

// HelmUnittest returns the path of the helm-unittest CLI at version (e.g. "1.1.2"),
// building it when missing. It cannot be `go install`ed at a version (its go.mod has a
// replace directive), so the module is downloaded, copied and built in place.
func (c *Cache) HelmUnittest(ctx context.Context, version string) (string, error) {
	v := strings.TrimPrefix(version, "v")
	return c.goTool(ctx, "helm-unittest", v, "helm-unittest", func(ctx context.Context, work, out string, log io.Writer) error {
		m, err := c.download(ctx, work, HelmUnittestModule, "v"+v, log)
		if err != nil {
			return err
		}
		src := filepath.Join(work, "src")
		if err := os.CopyFS(src, os.DirFS(m.Dir)); err != nil {
			return fmt.Errorf("copy %s: %w", m.Dir, err)
		}
		ldflags := "-s -w -X " + HelmUnittestModule + "/internal/build.version=v" + v
		return c.goCmd(ctx, src, "-trimpath -buildvcs=false -mod=mod", nil, log,
			"build", "-p", strconv.Itoa(c.opts.Parallel), "-ldflags", ldflags, "-o", filepath.Join(out, "helm-unittest"), "./cmd/helm-unittest")
	})
}

// Yq returns the path of mikefarah's yq at version, building it when missing.
func (c *Cache) Yq(ctx context.Context, version string) (string, error) {
	return c.goInstall(ctx, "yq", strings.TrimPrefix(version, "v"), YqModule)
}

// goInstall caches the binary of `go install module@vVERSION` (which builds with the
// exact dependencies the module's go.mod pins) as kind/version/kind.
func (c *Cache) goInstall(ctx context.Context, kind, version, module string) (string, error) {
	return c.goTool(ctx, kind, version, kind, func(ctx context.Context, work, out string, log io.Writer) error {
		return c.goCmd(ctx, work, "-trimpath -buildvcs=false", []string{"GOBIN=" + out}, log,
			"install", "-p", strconv.Itoa(c.opts.Parallel), "-ldflags", "-s -w", module+"@v"+version)
	})
}

// goTool returns the path of binary in cache entry kind/version, running build in a
// fresh work directory to fill the entry's out directory when missing.
func (c *Cache) goTool(ctx context.Context, kind, version, binary string, build func(ctx context.Context, work, out string, log io.Writer) error) (string, error) {
	what := kind + " " + version
	dir, err := c.entry(ctx, kind, version, what, []string{binary}, func(ctx context.Context, out string, log io.Writer) error {
		c.step("building " + what)
		work, err := os.MkdirTemp("", "shakedown-"+kind+"build-")
		if err != nil {
			c.fail()
			return fmt.Errorf("create build directory: %w", err)
		}
		defer os.RemoveAll(work)
		if err := build(ctx, work, out, log); err != nil {
			c.fail()
			return err
		}
		c.done()
		return nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, binary), nil
}
