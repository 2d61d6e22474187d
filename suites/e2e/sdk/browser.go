package sdk

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

var (
	//go:embed scripts/browser.cjs
	browserScript []byte
	//go:embed scripts/page.html
	pageHTML string
)

// The events posthog-js sends on each page: its rate limiter drops bursts
// over 100 events per page load, so these stay well under it.
const (
	jsBeaconEvents = 10
	jsPlainEvents  = 20
	jsMaxEvents    = 30 // captured twice on the main page (before and after identify)
)

// browserAnswer is what scripts/browser.cjs prints.
type browserAnswer struct {
	Sent []struct {
		UUID  string `json:"uuid"`
		Event string `json:"event"`
		Page  string `json:"page"`
	} `json:"sent"`
	Flags struct {
		Error   string         `json:"error"`
		Answers map[string]any `json:"answers"`
		Anon    string         `json:"anon"`
		User    string         `json:"user"`
	} `json:"flags"`
	// Beacons are the page's navigator.sendBeacon calls.
	Beacons []struct {
		URL    string `json:"beacon"`
		Queued bool   `json:"queued"`
		Page   string `json:"page"`
	} `json:"beacons"`
	Requests []browserRequest `json:"requests"`
	Failed   []string         `json:"failed"`
	Console  []string         `json:"console"`
}

// browserRequest is one request a page made to the deployment.
type browserRequest struct {
	Page     string `json:"page"`
	Method   string `json:"method"`
	URL      string `json:"url"` // path and query, relative to the capture URL
	Type     string `json:"type"`
	Resource string `json:"resource"` // puppeteer's resource type: fetch, xhr, ping (sendBeacon)
}

// isEvents says the request carries events.
func (r browserRequest) isEvents() bool {
	for _, p := range []string{"/e/", "/i/v0/e/", "/batch/", "/e?", "/i/v0/e?", "/batch?", "/capture/"} {
		if strings.HasPrefix(r.URL, p) {
			return true
		}
	}
	return false
}

// findChromium returns the browser to use: the given path, else chromium on
// PATH, else Debian's /usr/bin/chromium.
func findChromium(path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("chromium %s: %w", path, err)
		}
		return path, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	return "", errors.New("posthog-js runs in Chromium and none was found: install Debian's chromium package (make test-deps does) or pass its path")
}

// runBrowser serves a page loading posthog-js from dir on a loopback port of
// its own (another origin than the deployment, so CORS applies), and drives
// it in chromium with scripts/browser.cjs.
func runBrowser(ctx context.Context, dir, chromium, target, token string, in browserInput) (browserAnswer, error) {
	var a browserAnswer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return a, fmt.Errorf("listen for the posthog-js page: %w", err)
	}
	sdkFile := filepath.Join(dir, "node_modules", "posthog-js", "dist", "array.js")
	if _, err := os.Stat(sdkFile); err != nil {
		return a, fmt.Errorf("posthog-js bundle: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		cfg, _ := json.Marshal(map[string]any{"target": target, "token": token, "page": r.URL.Query().Get("page"),
			"compressionOff": r.URL.Query().Get("compression") == "off"})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, strings.Replace(pageHTML, "/*CONFIG*/null", string(cfg), 1))
	})
	mux.HandleFunc("/posthog.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, sdkFile) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close below
	defer srv.Close()

	input, err := json.Marshal(in)
	if err != nil {
		return a, fmt.Errorf("encode the browser input: %w", err)
	}
	err = runNode(ctx, browserScript, 5*time.Minute, &a, "SDK_DIR="+dir, "PAGE=http://"+ln.Addr().String()+"/",
		"CAPTURE="+target, "CHROMIUM="+chromium, "INPUT="+string(input))
	if err != nil {
		return a, fmt.Errorf("posthog-js in chromium: %w", err)
	}
	return a, nil
}

// browserInput is what scripts/browser.cjs is asked to do.
type browserInput struct {
	Run          string `json:"run"`
	User         string `json:"user"`
	Company      string `json:"company"`
	Events       int    `json:"events"`
	BeaconEvents int    `json:"beaconEvents"`
	PlainEvents  int    `json:"plainEvents"`
	// Flags says the run configured flags, so the page waits for them.
	Flags bool `json:"flags"`
}
