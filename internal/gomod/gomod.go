// Package gomod runs `go mod download` for the tools that fetch modules through
// the Go module proxy configured for `go` (control-plane builds, OpenAPI specs).
package gomod

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// Module is what `go mod download -json` reports of one module.
type Module struct {
	Path, Version, Error string
	GoMod, Dir           string
}

// Download fetches module@version into the module cache with goCmd, run in dir
// (outside any module is fine) with workspaces off and GOFLAGS cleared, so a
// user's -mod=vendor cannot get in the way. The go command's stderr goes to log.
func Download(ctx context.Context, goCmd, dir, module, version string, log io.Writer) (Module, error) {
	if log == nil {
		log = io.Discard
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", module+"@"+version)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = &out, log
	runErr := cmd.Run()
	var m Module
	if err := json.Unmarshal(out.Bytes(), &m); err != nil && runErr == nil {
		return m, fmt.Errorf("go mod download %s@%s: read answer: %w", module, version, err)
	}
	if m.Error != "" {
		return m, fmt.Errorf("go mod download %s@%s: %s (is it on the module proxy? see `go env GOPROXY`)", module, version, m.Error)
	}
	if runErr != nil {
		return m, fmt.Errorf("go mod download %s@%s: %w (is %q the Go command?)", module, version, runErr, goCmd)
	}
	if m.Dir == "" {
		return m, fmt.Errorf("go mod download %s@%s: no directory in the answer", module, version)
	}
	return m, nil
}
