package kubebin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// buildFunc fills outDir with the entry's files, writing the go command's output to log.
type buildFunc func(ctx context.Context, outDir string, log io.Writer) error

// entry returns the directory of cache entry kind/version holding files, building it
// with build when missing. The build happens in a temporary sibling directory that is
// renamed into place only once complete, under a per-entry file lock.
func (c *Cache) entry(ctx context.Context, kind, version, what string, files []string, build buildFunc) (string, error) {
	final := c.entryDir(kind, version)
	if complete(final, files) {
		return final, nil
	}
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("%s: create cache directory %s: %w", what, parent, err)
	}
	unlock, err := c.lock(ctx, filepath.Join(parent, version+".lock"), what)
	if err != nil {
		return "", err
	}
	defer unlock()
	if complete(final, files) { // another process built it while we waited
		return final, nil
	}
	removeStale(parent, version)
	tmp, err := os.MkdirTemp(parent, ".tmp-"+version+"-")
	if err != nil {
		return "", fmt.Errorf("%s: create build directory under %s: %w", what, parent, err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	logPath, logFile, err := c.openLog(kind, version)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer logFile.Close()
	var log io.Writer = logFile
	if c.opts.Log != nil {
		log = io.MultiWriter(logFile, c.opts.Log)
	}
	started := time.Now()
	fmt.Fprintf(logFile, "# building %s into %s (%s)\n", what, final, started.UTC().Format(time.RFC3339))
	if err := build(ctx, tmp, log); err != nil {
		return "", fmt.Errorf("%s not cached and build failed: %w; build log %s:\n%s", what, err, logPath, tail(logPath))
	}
	if !complete(tmp, files) {
		return "", fmt.Errorf("%s: build finished without producing %s; build log %s", what, strings.Join(files, ", "), logPath)
	}
	fmt.Fprintf(logFile, "# built in %s\n", time.Since(started).Round(time.Second))
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it private
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if err := os.RemoveAll(final); err != nil { // an incomplete entry from an older layout
		return "", fmt.Errorf("%s: clear %s: %w", what, final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("%s: move build into cache %s: %w", what, final, err)
	}
	return final, nil
}

// complete reports whether dir holds every file as an executable.
func complete(dir string, files []string) bool {
	for _, f := range files {
		if !isExecutable(filepath.Join(dir, f)) {
			return false
		}
	}
	return true
}

// removeStale deletes build directories left by killed builds of version. Callers hold
// the entry's lock, so no live build owns them.
func removeStale(parent, version string) {
	matches, _ := filepath.Glob(filepath.Join(parent, ".tmp-"+version+"-*"))
	for _, m := range matches {
		_ = os.RemoveAll(m)
	}
}

func (c *Cache) openLog(kind, version string) (string, *os.File, error) {
	dir := filepath.Join(c.opts.Dir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("create log directory %s: %w", dir, err)
	}
	p := filepath.Join(dir, kind+"-"+version+".log")
	f, err := os.Create(p)
	if err != nil {
		return "", nil, fmt.Errorf("create build log %s: %w", p, err)
	}
	return p, f, nil
}

// tail returns the end of a log file for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	const max = 3000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}
