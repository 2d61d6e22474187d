package decide

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shakedown-dev/shakedown/reference/edge"
)

func TestErrors(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID, flagRow{key: "f", filters: `{"groups":[{"properties":[],"rollout_percentage":100}]}`})
	reg := prometheus.NewRegistry()
	h, err := New(context.Background(), Config{Postgres: db, Registerer: reg, MaxBody: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		method string
		body   string
		status int
		code   string
	}{
		{"no token", "POST", `{"distinct_id":"u"}`, 401, "missing_api_key"},
		{"unknown token", "POST", `{"token":"phc_nope","distinct_id":"u"}`, 401, "invalid_api_key"},
		{"personal key", "POST", `{"api_key":"phx_secret","distinct_id":"u"}`, 401, "personal_api_key"},
		{"mixed tokens", "POST", `{"token":"` + token + `","api_key":"phc_other","distinct_id":"u"}`, 401, "mixed_tokens"},
		{"no distinct_id", "POST", `{"token":"` + token + `"}`, 400, "missing_distinct_id"},
		{"null distinct_id", "POST", `{"token":"` + token + `","distinct_id":null}`, 400, "missing_distinct_id"},
		{"blank distinct_id", "POST", `{"token":"` + token + `","distinct_id":"  "}`, 400, "missing_distinct_id"},
		{"object distinct_id", "POST", `{"token":"` + token + `","distinct_id":{"a":1}}`, 400, "missing_distinct_id"},
		{"malformed JSON", "POST", `{"token":`, 400, "malformed_payload"},
		{"JSON array", "POST", `[1,2]`, 400, "malformed_request"},
		{"empty body", "POST", ``, 400, "malformed_payload"},
		{"too large", "POST", `{"token":"` + token + `","distinct_id":"u","x":"` + strings.Repeat("a", 2000) + `"}`, 413, "payload_too_large"},
		{"wrong method", "PUT", `{}`, 405, "method_not_allowed"},
		{"unknown compression", "POST?compression=brotli", `{}`, 400, "unsupported_media_type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			method, query, _ := strings.Cut(c.method, "?")
			target := "/decide/?v=3"
			if query != "" {
				target += "&" + query
			}
			a := do(t, h, httptest.NewRequest(method, target, strings.NewReader(c.body)))
			if a.status != c.status || a.body["code"] != c.code {
				t.Fatalf("got %d %v, want %d %s: %s", a.status, a.body["code"], c.status, c.code, a.raw)
			}
			if d, _ := a.body["detail"].(string); len(d) < 10 {
				t.Errorf("detail %q does not say how to fix it", d)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if n := value(t, h.metrics.requests.WithLabelValues(outcomeUnauthorized)); n != 4 {
		t.Errorf("unauthorized requests counted %v, want 4", n)
	}
	if n := value(t, h.metrics.requests.WithLabelValues(outcomeUnsupported)); n != 1 {
		t.Errorf("unsupported-encoding requests counted %v, want 1", n)
	}
	if n := value(t, h.metrics.requests.WithLabelValues(outcomeOK)); n != 0 {
		t.Errorf("ok requests counted %v, want 0", n)
	}
}

func TestResponseShapeAndVersions(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID,
		flagRow{key: "on", filters: `{"groups":[{"properties":[],"rollout_percentage":100}],"payloads":{"true":"{\"color\":\"blue\"}"}}`},
		flagRow{key: "off", filters: `{"groups":[{"properties":[],"rollout_percentage":0}]}`},
		flagRow{key: "cohort", filters: `{"groups":[{"properties":[{"key":"id","value":3,"type":"cohort"}],"rollout_percentage":100}]}`},
	)
	h, reg := newHandler(t, db)
	body := `{"token":"` + token + `","distinct_id":42}`

	a := call(t, h, body)
	flags := a.flags(t)
	if flags["on"] != true || flags["off"] != false || flags["cohort"] != false || len(flags) != 3 {
		t.Errorf("featureFlags = %v", flags)
	}
	if p := a.body["featureFlagPayloads"].(map[string]any); p["on"] != `{"color":"blue"}` || len(p) != 1 {
		t.Errorf("featureFlagPayloads = %v", p)
	}
	if a.body["errorsWhileComputingFlags"] != true {
		t.Errorf("a cohort filter is not evaluated, so errorsWhileComputingFlags must be true: %s", a.raw)
	}
	for k, want := range map[string]any{"sessionRecording": false, "isAuthenticated": false, "capturePerformance": false, "autocapture_opt_out": false} {
		if a.body[k] != want {
			t.Errorf("%s = %v, want %v", k, a.body[k], want)
		}
	}
	if cfg, _ := a.body["config"].(map[string]any); cfg["enable_collect_everything"] != true {
		t.Errorf("config = %v", a.body["config"])
	}
	if sc, _ := a.body["supportedCompression"].([]any); len(sc) != 2 || sc[0] != "gzip" || sc[1] != "gzip-js" {
		t.Errorf("supportedCompression = %v", a.body["supportedCompression"])
	}
	if sa, ok := a.body["siteApps"].([]any); !ok || len(sa) != 0 {
		t.Errorf("siteApps = %v", a.body["siteApps"])
	}

	v1 := do(t, h, httptest.NewRequest("POST", "/decide/", strings.NewReader(body)))
	if l, ok := v1.body["featureFlags"].([]any); !ok || len(l) != 1 || l[0] != "on" {
		t.Errorf("v1 featureFlags = %v, want [on]", v1.body["featureFlags"])
	}
	v4 := do(t, h, httptest.NewRequest("POST", "/decide/?v=4", strings.NewReader(body)))
	detail, _ := v4.body["flags"].(map[string]any)
	on, _ := detail["on"].(map[string]any)
	if on["enabled"] != true || on["reason"].(map[string]any)["code"] != reasonConditionMatch {
		t.Errorf("v4 flags.on = %v", detail["on"])
	}
	if off, _ := detail["off"].(map[string]any); off["reason"].(map[string]any)["code"] != reasonOutOfRollout {
		t.Errorf("v4 flags.off = %v", detail["off"])
	}
	if n := value(t, h.metrics.flags.WithLabelValues("enabled")); n != 3 {
		t.Errorf("enabled flags counted %v, want 3 (one per request)", n)
	}
	if n := value(t, h.metrics.requests.WithLabelValues(outcomeOK)); n != 3 {
		t.Errorf("ok requests counted %v, want 3", n)
	}
	if age := value(t, h.metrics.cacheAge); age < 0 || age > 60 {
		t.Errorf("cache age %v s", age)
	}
	if n := families(t, reg, "shakedown_decide_cache_age_seconds"); n != 1 {
		t.Errorf("cache age gauge has %d series, want 1", n)
	}
}

func TestClientEncodings(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID, flagRow{key: "f", filters: `{"groups":[{"properties":[{"key":"plan","value":"pro","type":"person"}]}]}`})
	h, _ := newHandler(t, db)
	js := `{"token":"` + token + `","distinct_id":"enc","person_properties":{"plan":"pro"}}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(js))
	_ = zw.Close()
	b64 := base64.StdEncoding.EncodeToString([]byte(js))
	for name, req := range map[string]*http.Request{
		"gzip":       httptest.NewRequest("POST", "/decide/?v=3&compression=gzip-js", bytes.NewReader(gz.Bytes())),
		"base64":     httptest.NewRequest("POST", "/decide/?v=3&compression=base64", strings.NewReader(b64)),
		"form":       formRequest("/decide/?v=3", "data="+url.QueryEscape(b64)),
		"GET ?data=": httptest.NewRequest("GET", "/decide/?v=3&data="+url.QueryEscape(b64), nil),
	} {
		if got := do(t, h, req).flags(t)["f"]; got != true {
			t.Errorf("%s: f = %v, want true", name, got)
		}
	}
}

func formRequest(target, body string) *http.Request {
	r := httptest.NewRequest("POST", target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// TestCORS is PostHog's reflection (edge.AnyOrigin); the default policy is
// TestCORSDefault.
func TestCORS(t *testing.T) {
	db := pool(t)
	_, token := newTeam(t, db)
	h, err := New(context.Background(), Config{Postgres: db, CORS: edge.CORS{Origins: []string{edge.AnyOrigin}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second}

	pre, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decide/?v=3", nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "content-type, x-custom")
	resp, err := client.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type, x-custom" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	post, _ := http.NewRequest(http.MethodPost, srv.URL+"/decide/?v=3", strings.NewReader(`{"token":"`+token+`","distinct_id":"c"}`))
	post.Header.Set("Origin", "https://other.example")
	resp, err = client.Do(post)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://other.example" {
		t.Errorf("POST: %d, Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if got := resp.Header.Get("Access-Control-Expose-Headers"); got != "Retry-After" {
		t.Errorf("Expose-Headers %q: browsers hide Retry-After from the SDKs unless exposed", got)
	}
	// Errors carry CORS headers too, or browsers hide them from the page.
	bad, _ := http.NewRequest(http.MethodPost, srv.URL+"/decide/?v=3", strings.NewReader(`{"distinct_id":"c"}`))
	bad.Header.Set("Origin", "https://third.example")
	resp, err = client.Do(bad)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != "https://third.example" {
		t.Errorf("401: %d, Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestCORSDefault: without a configured policy any origin may call decide, but
// never with credentials, and a "null" origin is not reflected.
func TestCORSDefault(t *testing.T) {
	db := pool(t)
	h, _ := newHandler(t, db)
	for _, origin := range []string{"https://app.example", "null"} {
		for _, method := range []string{http.MethodOptions, http.MethodPost} {
			r := httptest.NewRequest(method, "/decide/?v=3", strings.NewReader(`{}`))
			r.Header.Set("Origin", origin)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("%s from %s: Allow-Origin %q credentials %q, want * and none", method, origin, got, w.Header().Get("Access-Control-Allow-Credentials"))
			}
			if method == http.MethodOptions && w.Header().Get("Access-Control-Max-Age") != "600" {
				t.Errorf("preflight max-age %q, want 600", w.Header().Get("Access-Control-Max-Age"))
			}
		}
	}
}
