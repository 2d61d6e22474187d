package kubebin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
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
	v := trimV(version)
	what := "helm-unittest " + v
	dir, err := c.entry(ctx, "helm-unittest", v, what, []string{"helm-unittest"}, func(ctx context.Context, out string, log io.Writer) error {
		c.step("building " + what)
		work, err := os.MkdirTemp("", "shakedown-helmunittest-")
		if err != nil {
			c.fail()
			return fmt.Errorf("create build directory: %w", err)
		}
		defer os.RemoveAll(work)
		m, err := c.download(ctx, work, HelmUnittestModule, "v"+v, log)
		if err != nil {
			c.fail()
			return err
		}
		src := filepath.Join(work, "src")
		if err := os.CopyFS(src, os.DirFS(m.Dir)); err != nil {
			c.fail()
			return fmt.Errorf("copy %s: %w", m.Dir, err)
		}
		ldflags := "-s -w -X " + HelmUnittestModule + "/internal/build.version=v" + v
		err = c.goCmd(ctx, src, "-trimpath -buildvcs=false -mod=mod", nil, log,
			"build", "-p", strconv.Itoa(c.opts.Parallel), "-ldflags", ldflags, "-o", filepath.Join(out, "helm-unittest"), "./cmd/helm-unittest")
		if err != nil {
			c.fail()
			return err
		}
		c.done()
		return nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "helm-unittest"), nil
}

// Yq returns the path of mikefarah's yq at version, building it with `go install`
// when missing.
func (c *Cache) Yq(ctx context.Context, version string) (string, error) {
	v := trimV(version)
	what := "yq " + v
	dir, err := c.entry(ctx, "yq", v, what, []string{"yq"}, func(ctx context.Context, out string, log io.Writer) error {
		c.step("building " + what)
		work, err := os.MkdirTemp("", "shakedown-yqbuild-")
		if err != nil {
			c.fail()
			return fmt.Errorf("create build directory: %w", err)
		}
		defer os.RemoveAll(work)
		err = c.goCmd(ctx, work, "-trimpath -buildvcs=false", []string{"GOBIN=" + out}, log,
			"install", "-p", strconv.Itoa(c.opts.Parallel), "-ldflags", "-s -w", YqModule+"@v"+v)
		if err != nil {
			c.fail()
			return err
		}
		c.done()
		return nil
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "yq"), nil
}

// trimV drops a leading "v" from a version.
func trimV(v string) string {
	if len(v) > 0 && v[0] == 'v' {
		return v[1:]
	}
	return v
}
