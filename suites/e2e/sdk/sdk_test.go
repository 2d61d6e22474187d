package sdk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/internal/stack/local/localtest"
	"github.com/shakedown-dev/shakedown/reference/edge"
)

// upStack starts a local stack for one test with capture's and decide's
// cross-origin policy cors (zero: the default, any origin without credentials).
func upStack(t *testing.T, cors edge.CORS) *local.Stack {
	t.Helper()
	return localtest.Up(t, local.Options{CORS: cors})
}

// runAgainst runs specs against s (with its PostgreSQL unless withoutPostgres)
// and fails the test on any failed check, printing the report.
func runAgainst(t *testing.T, s *local.Stack, specs string, events int, withoutPostgres bool) *Result {
	t.Helper()
	list, err := ParseSpecs(specs)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Target: s.Endpoints.CaptureURL, Token: s.Endpoints.Token, ClickHouse: s.ClickHouse, Database: s.Database,
		Postgres: s.Postgres, SDKs: list, Events: events, Wait: 45 * time.Second, Progress: func(step string) { t.Log(step) }}
	if withoutPostgres {
		opts.Postgres = nil
	}
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	res.WriteText(&b)
	t.Log("\n" + b.String())
	if res.Failed() {
		t.Errorf("SDK conformance failed:\n%s", b.String())
	}
	return res
}

// checkAllRan fails when a check of r did not run (with PostgreSQL, all must).
func checkAllRan(t *testing.T, res *Result, minChecks int) {
	t.Helper()
	for _, r := range res.SDKs {
		if len(r.Checks) < minChecks {
			t.Errorf("%s: only %d checks ran, want at least %d", r.SDK, len(r.Checks), minChecks)
		}
		for _, c := range r.Checks {
			if c.Status != Pass {
				t.Errorf("%s: %s: %s (%s)", r.SDK, c.Name, c.Status, c.Detail)
			}
		}
	}
}

// TestPostHogGoSDK lets posthog-go judge the local stack, with PostgreSQL
// (every check) and without it (flags and stored persons reported not run,
// the rest still checked).
func TestPostHogGoSDK(t *testing.T) {
	s := upStack(t, edge.CORS{})
	res := runAgainst(t, s, "go", 500, false)
	checkAllRan(t, res, 20)
	if r := res.SDKs[0]; r.Sent != 511 || r.Stored != 511 {
		t.Errorf("posthog-go: sent %d, stored %d; want 511 each", r.Sent, r.Stored)
	}

	res = runAgainst(t, s, "go", 20, true)
	var notRun []string
	for _, c := range res.SDKs[0].Checks {
		if c.Status == NotRun {
			notRun = append(notRun, c.Name)
		}
	}
	if len(notRun) != 3 {
		t.Errorf("without PostgreSQL, want flags, groups and stored persons not run; not run: %v", notRun)
	}
}

// TestPostHogNodeSDK lets posthog-node judge the local stack, in its default
// capture mode and in the opt-in v1 mode (/i/v1/analytics/events).
func TestPostHogNodeSDK(t *testing.T) {
	s := upStack(t, edge.CORS{})
	res := runAgainst(t, s, "node,node-v1", 500, false)
	checkAllRan(t, res, 20)
	// node-v1 must really have used the v1 route, and node the classic one.
	resp, err := http.Get(s.Endpoints.CaptureURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, route := range []string{"/i/v1/analytics/events", "/batch"} {
		re := regexp.MustCompile(`shakedown_capture_http_requests_total\{code="200",route="` + regexp.QuoteMeta(route) + `/?"\} ([0-9]+)`)
		if m := re.FindSubmatch(metrics); m == nil || string(m[1]) == "0" {
			t.Errorf("capture served no request on %s:\n%s", route, grepLines(metrics, "http_requests_total"))
		}
	}
}

func grepLines(b []byte, substr string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPostHogJSInChromium lets the current posthog-js and 1.200 (which asks
// /decide instead of /flags and remote config) judge the local stack from a
// page of another origin, in Debian's Chromium. The current release works
// with the default cross-origin policy (no credentials); 1.200 sends XHR
// withCredentials, which browsers refuse unless the page's origin is allowed
// explicitly, so its stack reflects origins as PostHog does — and without
// that, the layer must report it failing.
func TestPostHogJSInChromium(t *testing.T) {
	if _, err := findChromium(""); err != nil {
		t.Fatalf("%v (make test-deps installs it)", err)
	}
	t.Run("current/default-cors", func(t *testing.T) {
		res := runAgainst(t, upStack(t, edge.CORS{}), "js", 30, false)
		checkAllRan(t, res, 14)
	})
	t.Run("1.200/reflect-origins", func(t *testing.T) {
		res := runAgainst(t, upStack(t, edge.CORS{Origins: []string{edge.AnyOrigin}}), "js@1.200.2", 30, false)
		checkAllRan(t, res, 14)
	})
}

func TestParseSpecs(t *testing.T) {
	got, err := ParseSpecs(" go, node ,js@1.200.2,js,node@5.70.0,node-v1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Spec{{Go, GoVersion}, {Node, DefaultNodeVersion}, {JS, "1.200.2"}, {JS, DefaultJSVersion}, {NodeV1, DefaultNodeVersion}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("spec %d = %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "ruby", "go@1.0.0", "js@--registry=x", "node@../x", ","} {
		if _, err := ParseSpecs(bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("ParseSpecs(%q) = %v, want ErrInvalidOptions", bad, err)
		}
	}
}

func TestSameAnswer(t *testing.T) {
	for _, c := range []struct {
		got, want any
		same      bool
	}{
		{true, true, true},
		{"b", "b", true},
		{nil, false, false},
		{`{"color":"blue"}`, map[string]any{"color": "blue"}, true},
		{map[string]any{"color": "red"}, map[string]any{"color": "blue"}, false},
		{map[string]any{"shakedown-checkout": true, "other": 1}, map[string]any{"shakedown-checkout": true}, true},
		{map[string]any{"shakedown-checkout": false}, map[string]any{"shakedown-checkout": true}, false},
	} {
		if got := sameAnswer(c.got, c.want); got != c.same {
			t.Errorf("sameAnswer(%v, %v) = %v, want %v", c.got, c.want, got, c.same)
		}
	}
}

func TestOptionsRejectMistakes(t *testing.T) {
	for _, o := range []Options{
		{},
		{Target: "capture.example", Token: "phc_x"},
		{Target: "http://127.0.0.1:1", Token: "phc_x"},
	} {
		if _, err := Run(context.Background(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Run(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
}
