package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// npmInstall returns a directory whose node_modules holds specs (name@version
// each), installing them with the machine's npm (and the registry its own
// configuration names) into cacheDir on first use. The directory appears in
// one rename, so an interrupted install leaves nothing half-filled behind.
func npmInstall(ctx context.Context, cacheDir string, specs ...string) (string, error) {
	dir := filepath.Join(cacheDir, strings.Join(specs, "+"))
	installed := func(d string) bool {
		for _, s := range specs {
			name := s[:strings.LastIndex(s, "@")]
			if _, err := os.Stat(filepath.Join(d, "node_modules", name, "package.json")); err != nil {
				return false
			}
		}
		return true
	}
	if installed(dir) {
		return dir, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", fmt.Errorf("npm is needed to install %s (install Node.js, e.g. Debian's nodejs and npm): %w", strings.Join(specs, " "), err)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("npm cache %s: %w", cacheDir, err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("npm cache %s: %w", cacheDir, err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", append([]string{"install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save", "--ignore-scripts"}, specs...)...)
	cmd.Env = append(os.Environ(), "PUPPETEER_SKIP_DOWNLOAD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %s: %w (is that release published?)\n%s", strings.Join(specs, " "), err, tail(out, 2000))
	}
	if err := os.Rename(tmp, dir); err != nil && !installed(dir) { // else another run installed it meanwhile
		return "", fmt.Errorf("move %s into the npm cache %s: %w", strings.Join(specs, " "), dir, err)
	}
	return dir, nil
}

// runNode runs script (a CommonJS program, given on standard input) with node
// and env added to this process's environment, for at most timeout; the
// script and everything it started (a browser) are killed together. The one
// JSON document it prints is decoded into out.
func runNode(ctx context.Context, script []byte, timeout time.Duration, out any, env ...string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("node is needed to run posthog-node and posthog-js (install Node.js): %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "-")
	cmd.Stdin = strings.NewReader(string(script))
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s", err, timeout)
		}
		return fmt.Errorf("node: %w\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		return fmt.Errorf("read the script's answer: %w\n%s\n%s", err, tail(stdout, 2000), stderr.String())
	}
	return nil
}

// limitedBuffer keeps the last 16 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > 16<<10 {
		l.b = l.b[len(l.b)-16<<10:]
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
