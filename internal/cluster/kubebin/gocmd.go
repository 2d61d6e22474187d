package kubebin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
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

// downloadedModule is what `go mod download -json` reports.
type downloadedModule struct {
	Path, Version, Error string
	GoMod, Dir           string
}

// download fetches module@version into the module cache and returns where it is.
func (c *Cache) download(ctx context.Context, dir, module, version string, log io.Writer) (downloadedModule, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, c.opts.Go, "mod", "download", "-json", module+"@"+version)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = &out, log
	fmt.Fprintf(log, "$ %s mod download -json %s@%s\n", c.opts.Go, module, version)
	runErr := cmd.Run()
	var m downloadedModule
	if err := json.Unmarshal(out.Bytes(), &m); err != nil && runErr == nil {
		return m, fmt.Errorf("go mod download %s@%s: read answer: %w", module, version, err)
	}
	if m.Error != "" {
		return m, fmt.Errorf("go mod download %s@%s: %s (is it on the module proxy? see `go env GOPROXY`)", module, version, m.Error)
	}
	if runErr != nil {
		return m, fmt.Errorf("go mod download %s@%s: %w", module, version, runErr)
	}
	return m, nil
}
