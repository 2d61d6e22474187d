package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// posthogNodeVersion is the posthog-node release the SDK test installs.
const posthogNodeVersion = "5.70.0"

// npmPackage returns a directory whose node_modules holds name@version,
// installing it with the machine's npm (and its configured registry) into
// the user cache on first use; the directory appears in one rename.
func npmPackage(t *testing.T, name, version string) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatalf("npm is needed to install %s (Node.js %s ships with it on these machines): %v", name, "20", err)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no user cache directory (set HOME or XDG_CACHE_HOME): %v", err)
	}
	dir := filepath.Join(base, "shakedown", "npm", name+"-"+version)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", name, "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save", name+"@"+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s@%s: %v\n%s", name, version, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules", name)); statErr != nil { // not another test's install
			t.Fatalf("move %s into the cache: %v", name, err)
		}
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
	sdk := npmPackage(t, "posthog-node", posthogNodeVersion)
	s := upStack(t, local.Options{})
	teamID := addSDKFlags(t, s)
	script, err := filepath.Abs("testdata/sdk-node.cjs")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 1000
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "TARGET="+s.Endpoints.CaptureURL, "TOKEN="+s.Endpoints.Token,
		"EVENTS="+strconv.Itoa(n), "PEOPLE=50")
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var res nodeSDKResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("read the script's answer: %v\n%s", err, out)
	}
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

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
