package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// posthogNodeVersion is the posthog-node release the SDK test installs.
const posthogNodeVersion = "5.70.0"

// npmPackages returns a directory whose node_modules holds the packages
// (name@version each), installing them with the machine's npm (and its
// configured registry) into the user cache on first use; the directory
// appears in one rename, so a killed install leaves nothing half-filled.
func npmPackages(t *testing.T, specs ...string) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatalf("npm is needed to install %v (Node.js ships with it on these machines): %v", specs, err)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no user cache directory (set HOME or XDG_CACHE_HOME): %v", err)
	}
	dir := filepath.Join(base, "shakedown", "npm", strings.Join(specs, "+"))
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
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", append([]string{"install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save"}, specs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %v: %v\n%s", specs, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil && !installed(dir) { // else another test installed it meanwhile
		t.Fatalf("move %v into the cache: %v", specs, err)
	}
	return dir
}

// nodeSDKResult is what testdata/sdk-node.cjs prints.
type nodeSDKResult struct {
	UUIDs    []string       `json:"uuids"`
	Checkout any            `json:"checkout"`
	All      map[string]any `json:"all"`
	Payload  any            `json:"payload"`
	Free     any            `json:"free"`
	Errors   []string       `json:"errors"`
}

// TestPostHogNodeSDK lets the real posthog-node SDK judge the local stack:
// captures with uuids, $set and groups, identify, alias and group identify,
// then flags through /flags on the capture URL, all from Node.js.
func TestPostHogNodeSDK(t *testing.T) {
	sdk := npmPackages(t, "posthog-node@"+posthogNodeVersion)
	s := upStack(t, local.Options{})
	teamID := addSDKFlags(t, s)
	const n = 1000
	var res nodeSDKResult
	runNodeScript(t, "testdata/sdk-node.cjs", &res, "SDK_DIR="+sdk, "TARGET="+s.Endpoints.CaptureURL, "TOKEN="+s.Endpoints.Token,
		"EVENTS="+strconv.Itoa(n), "PEOPLE=50")
	if len(res.Errors) > 0 {
		t.Errorf("posthog-node reported errors: %v", res.Errors)
	}
	if len(res.UUIDs) != n {
		t.Fatalf("the script captured %d events, want %d", len(res.UUIDs), n)
	}
	checkSDKEvents(t, s, teamID, res.UUIDs, "node-1", "node-1-alias")
	want := map[string]any{"checkout": true, "pricing": "b", "pro-only": true}
	if res.Checkout != true || fmt.Sprint(res.All) != fmt.Sprint(want) || res.Free != false {
		t.Errorf("flags: checkout %v, all %v (want %v), pro-only for a free plan %v", res.Checkout, res.All, want, res.Free)
	}
	if p, _ := res.Payload.(map[string]any); p["color"] != "blue" {
		t.Errorf("checkout payload = %#v, want {color: blue}", res.Payload)
	}
}

// runNodeScript runs a testdata script with node and env added to this
// process's environment (for at most 2 minutes, then it and everything it
// started are killed), and decodes the JSON it prints into out.
func runNodeScript(t *testing.T, script string, out any, env ...string) {
	t.Helper()
	path, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", path)
	cmd.Env = append(os.Environ(), env...)
	// Its own process group, killed whole: a browser the script launched must
	// not outlive a script that hangs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", path, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("read the answer of %s: %v\n%s", path, err, stdout)
	}
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
