package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// The posthog-js releases judged (the current one, and 1.200, which still
// asks /decide instead of /flags and remote config), and the puppeteer-core
// that drives Chromium for them.
const (
	puppeteerCoreVersion = "25.16.0"
	chromiumPath         = "/usr/bin/chromium"
)

// posthogJSReleases maps each judged release to the path prefix its flags
// request must use.
var posthogJSReleases = map[string]string{"1.449.2": "/array/", "1.200.2": "/decide/"}

// jsSDKResult is what testdata/sdk-js.cjs prints.
type jsSDKResult struct {
	Flags struct {
		Before struct {
			Checkout any `json:"checkout"`
			Pricing  any `json:"pricing"`
			Payload  any `json:"payload"`
			ProOnly  any `json:"proOnly"`
		} `json:"before"`
		ProOnlyAfterIdentify any    `json:"proOnlyAfterIdentify"`
		Error                string `json:"error"`
		DistinctID           string `json:"distinctId"`
	} `json:"flags"`
	Requests []struct{ Method, URL, Type string } `json:"requests"`
	Failed   []string                             `json:"failed"`
	Console  []string                             `json:"console"`
}

// TestPostHogJSInChromium lets the real posthog-js, in Debian's Chromium,
// judge the local stack from another origin (so CORS applies): it must load
// the remote config (and so keep gzip on), load flags, send every event
// gzipped, and log no error; every event must be stored exactly once.
func TestPostHogJSInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Debian's chromium is needed (make test-deps installs it): %v", err)
	}
	for version, configPath := range posthogJSReleases {
		t.Run(version, func(t *testing.T) { testPostHogJS(t, version, configPath) })
	}
}

// testPostHogJS runs one posthog-js release; configPath is where it must
// have fetched its configuration (remote config, or /decide for 1.200).
func testPostHogJS(t *testing.T, version, configPath string) {
	sdk := npmPackages(t, "posthog-js@"+version, "puppeteer-core@"+puppeteerCoreVersion)
	s := upStack(t, local.Options{})
	addSDKFlags(t, s)
	waitFlagsServed(t, s)
	page, err := os.ReadFile("testdata/sdk-js.html")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]string{"target": s.Endpoints.CaptureURL, "token": s.Endpoints.Token})
	page = []byte(strings.Replace(string(page), "<script src=", "<script>window.SHAKEDOWN = "+string(cfg)+"</script>\n<script src=", 1))
	site := http.NewServeMux()
	site.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(page)
	})
	site.HandleFunc("/posthog.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(sdk, "node_modules", "posthog-js", "dist", "array.js"))
	})
	srv := httptest.NewServer(site)
	defer srv.Close()

	const n = 90 // posthog-js drops events past a burst of 100 in its own client-side rate limiter
	run := uuid.NewString()
	var res jsSDKResult
	runNodeScript(t, "testdata/sdk-js.cjs", &res, "SDK_DIR="+sdk, "PAGE="+srv.URL+"/", "CAPTURE="+s.Endpoints.CaptureURL,
		"EVENTS="+strconv.Itoa(n), "RUN="+run, "CHROMIUM="+chromiumPath)
	if res.Flags.Error != "" {
		t.Fatalf("%s; requests %+v, failed %v, console %v", res.Flags.Error, res.Requests, res.Failed, res.Console)
	}

	f := res.Flags.Before
	if f.Checkout != true || f.Pricing != "b" || f.ProOnly != false || res.Flags.ProOnlyAfterIdentify != true {
		t.Errorf("flags in posthog-js: checkout %v, pricing %v, pro-only %v then %v after identify with plan pro", f.Checkout, f.Pricing, f.ProOnly, res.Flags.ProOnlyAfterIdentify)
	}
	if p, _ := f.Payload.(map[string]any); p["color"] != "blue" {
		t.Errorf("checkout payload = %#v, want {color: blue}", f.Payload)
	}
	var config, events int
	for _, r := range res.Requests {
		switch {
		case strings.HasPrefix(r.URL, configPath):
			config++
		case strings.HasPrefix(r.URL, "/e/") || strings.HasPrefix(r.URL, "/i/v0/e/") || strings.HasPrefix(r.URL, "/batch/"):
			events++
			if r.Method == "POST" && r.Type != "text/plain" {
				t.Errorf("posthog-js sent %s %s as %q: gzip is off", r.Method, r.URL, r.Type)
			}
		}
	}
	if config == 0 || events == 0 {
		t.Errorf("posthog-js asked %s %d times and sent %d event requests: %+v", configPath, config, events, res.Requests)
	}
	if len(res.Failed) > 0 || len(res.Console) > 0 {
		t.Errorf("failed requests %v; console errors and warnings %v", res.Failed, res.Console)
	}

	q := fmt.Sprintf("SELECT count(), uniqExact(uuid) FROM `%s`.events FINAL WHERE event = 'js-event' AND visitParamExtractString(properties, 'run') = '%s'", s.Database, run)
	deadline := time.Now().Add(30 * time.Second)
	var rows, distinct uint64
	for {
		if err := s.ClickHouse.QueryRow(context.Background(), q).Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		if rows >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if rows != n || distinct != n {
		t.Fatalf("posthog-js captured %d events, stored %d rows (%d distinct uuids)", n, rows, distinct)
	}
}

// waitFlagsServed waits until the stack's decide cache has the flags just
// configured: the remote config says hasFeatureFlags, without which
// posthog-js never asks for flags on that page load.
func waitFlagsServed(t *testing.T, s *local.Stack) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var cfg struct{ HasFeatureFlags bool }
		resp, err := http.Get(s.Endpoints.CaptureURL + "/array/" + s.Endpoints.Token + "/config")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&cfg)
			resp.Body.Close()
		}
		if err == nil && cfg.HasFeatureFlags {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stack's remote config never reported the flags: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
