package kubebin

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/shakedown-dev/shakedown/internal/gomod"
)

// goCmd runs the go command in dir with GOFLAGS replaced by goflags (the user's GOFLAGS
// could hold -mod=vendor or similar that make no sense for a throwaway module) and
// workspaces off.
func (c *Cache) goCmd(ctx context.Context, dir, goflags string, extraEnv []string, log io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, c.opts.Go, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS="+goflags)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = log, log
	fmt.Fprintf(log, "$ (cd %s && GOFLAGS=%q %s %s %s)\n", dir, goflags, strings.Join(extraEnv, " "), c.opts.Go, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", c.opts.Go, strings.Join(args, " "), err)
	}
	return nil
}

// download fetches module@version into the module cache and returns where it is.
func (c *Cache) download(ctx context.Context, dir, module, version string, log io.Writer) (gomod.Module, error) {
	fmt.Fprintf(log, "$ %s mod download -json %s@%s\n", c.opts.Go, module, version)
	return gomod.Download(ctx, c.opts.Go, dir, module, version, log)
}
