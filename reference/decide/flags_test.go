package decide

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/posthog/posthog-go"
)

// sdkFlags are the flags the /flags tests configure: a boolean with a payload
// stored as PostHog stores it (a JSON string), one whose payload was stored as
// a bare JSON object, a forced multivariate flag with variant payloads, a
// person-property flag, and one that is off.
var sdkFlags = []flagRow{
	{key: "on", filters: `{"groups":[{"properties":[],"rollout_percentage":100}],"payloads":{"true":"{\"color\":\"blue\"}"}}`},
	{key: "object-payload", filters: `{"groups":[{"properties":[],"rollout_percentage":100}],"payloads":{"true":{"n":1}}}`},
	{key: "multi", filters: `{"groups":[{"properties":[],"rollout_percentage":100,"variant":"test"}],
		"multivariate":{"variants":[{"key":"control","rollout_percentage":50},{"key":"test","rollout_percentage":50}]},
		"payloads":{"test":"\"test payload\""}}`},
	{key: "pro", filters: `{"groups":[{"properties":[{"key":"plan","value":["pro"],"operator":"exact","type":"person"}],"rollout_percentage":100}]}`},
	{key: "off", filters: `{"groups":[{"properties":[],"rollout_percentage":0}]}`},
}

func TestFlagsEndpointShapes(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID, sdkFlags...)
	h, _ := newHandler(t, db)
	body := `{"api_key":"` + token + `","distinct_id":"u1","person_properties":{"plan":"pro"}}`

	v2 := do(t, h, httptest.NewRequest("POST", "/flags/?v=2", strings.NewReader(body)))
	detail, _ := v2.body["flags"].(map[string]any)
	on, _ := detail["on"].(map[string]any)
	meta, _ := on["metadata"].(map[string]any)
	if on["enabled"] != true || meta["payload"] != `{"color":"blue"}` || meta["id"] == nil || meta["id"].(float64) <= 0 {
		t.Errorf("/flags?v=2 flags.on = %v (want enabled, payload as a JSON string, the flag's id)", on)
	}
	obj, _ := detail["object-payload"].(map[string]any)
	if p := obj["metadata"].(map[string]any)["payload"]; p != `{"n": 1}` { // jsonb's text form
		t.Errorf("an object payload must be sent as a JSON string, got %#v", p)
	}
	if multi, _ := detail["multi"].(map[string]any); multi["variant"] != "test" {
		t.Errorf("flags.multi = %v", multi)
	}
	if ff := v2.flags(t); ff["multi"] != "test" || ff["pro"] != true || ff["off"] != false {
		t.Errorf("/flags?v=2 featureFlags = %v", ff)
	}
	if id, _ := v2.body["requestId"].(string); len(id) < 32 {
		t.Errorf("requestId = %v", v2.body["requestId"])
	}
	if _, ok := v2.body["quota_limited"]; ok {
		t.Error("quota_limited makes posthog-js stop sending for a minute; never send it unasked")
	}

	_, emptyToken := newTeam(t, db)
	h.Refresh(t.Context())
	empty := do(t, h, httptest.NewRequest("POST", "/flags/?v=2", strings.NewReader(`{"token":"`+emptyToken+`","distinct_id":"u1"}`)))
	if f, ok := empty.body["flags"].(map[string]any); !ok || len(f) != 0 {
		t.Errorf("a project without flags still gets \"flags\":{} (else posthog-js warns of an old endpoint): %s", empty.raw)
	}

	v1 := do(t, h, httptest.NewRequest("POST", "/flags/?v=1", strings.NewReader(body)))
	if _, ok := v1.body["flags"]; ok || v1.flags(t)["on"] != true {
		t.Errorf("/flags?v=1 is the map form without details: %s", v1.raw)
	}
}

func TestRemoteConfig(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID, sdkFlags[0])
	_, emptyToken := newTeam(t, db)
	h, _ := newHandler(t, db)

	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Origin", "https://shop.example")
		h.ServeHTTP(rec, req)
		return rec
	}
	cfg := do(t, h, httptest.NewRequest("GET", "/array/"+token+"/config", nil))
	if cfg.status != http.StatusOK || cfg.body["hasFeatureFlags"] != true || cfg.body["token"] != token {
		t.Errorf("config: %d %s", cfg.status, cfg.raw)
	}
	sc, _ := cfg.body["supportedCompression"].([]any)
	if len(sc) != 2 || sc[1] != "gzip-js" {
		t.Errorf("supportedCompression must hold gzip-js, or posthog-js turns gzip off: %v", cfg.body["supportedCompression"])
	}
	if _, ok := cfg.body["analytics"]; ok {
		t.Error("analytics.endpoint would move posthog-js's capture path")
	}
	if _, ok := cfg.body["surveys"]; ok {
		t.Error("a boolean surveys makes posthog-js fetch a surveys script this stack does not serve")
	}
	if e := do(t, h, httptest.NewRequest("GET", "/array/"+emptyToken+"/config", nil)); e.body["hasFeatureFlags"] != false {
		t.Errorf("a project without flags: %s", e.raw)
	}

	js := get("/array/" + token + "/config.js")
	if js.Code != http.StatusOK || js.Header().Get("Content-Type") != "application/javascript" ||
		!strings.Contains(js.Body.String(), `window._POSTHOG_REMOTE_CONFIG["`+token+`"]={"config":{`) ||
		js.Header().Get("Access-Control-Allow-Origin") != "*" { // the default CORS policy: any origin, no credentials
		t.Errorf("config.js: %d %v\n%s", js.Code, js.Header(), js.Body.String())
	}
	for path, want := range map[string]int{
		"/array/phc_nobody/config":    http.StatusNotFound,
		"/array/" + token + "/other":  http.StatusNotFound,
		"/array/" + token:             http.StatusNotFound,
		"/array/phc_nobody/config.js": http.StatusNotFound,
	} {
		if got := get(path).Code; got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}
	if got := do(t, h, httptest.NewRequest("POST", "/array/"+token+"/config", nil)).status; got != http.StatusMethodNotAllowed {
		t.Errorf("POST config: %d", got)
	}
}

// TestPostHogGoReadsFlags lets the real posthog-go SDK judge /flags: it calls
// /flags/?v=2 with "api_key" and decodes payloads as strings, failing the
// whole answer otherwise.
func TestPostHogGoReadsFlags(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID, sdkFlags...)
	h, _ := newHandler(t, db)
	mux := http.NewServeMux()
	mux.Handle("/flags/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client, err := posthog.NewWithConfig(token, posthog.Config{Endpoint: srv.URL, Logger: posthog.StdLogger(log.New(io.Discard, "", 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	props := posthog.NewProperties().Set("plan", "pro")
	for key, want := range map[string]any{"on": true, "multi": "test", "pro": true, "off": false, "missing": false} {
		got, err := client.GetFeatureFlag(posthog.FeatureFlagPayload{Key: key, DistinctId: "u1", PersonProperties: props})
		if err != nil || got != want {
			t.Errorf("GetFeatureFlag(%s) = %v, %v; want %v", key, got, err, want)
		}
	}
	if got, err := client.GetFeatureFlag(posthog.FeatureFlagPayload{Key: "pro", DistinctId: "u2",
		PersonProperties: posthog.NewProperties().Set("plan", "free")}); err != nil || got != false {
		t.Errorf("pro for a free plan = %v, %v", got, err)
	}
	for key, want := range map[string]string{"on": `{"color":"blue"}`, "object-payload": `{"n": 1}`, "multi": `"test payload"`} {
		if got, err := client.GetFeatureFlagPayload(posthog.FeatureFlagPayload{Key: key, DistinctId: "u1", PersonProperties: props}); err != nil || got != want {
			t.Errorf("GetFeatureFlagPayload(%s) = %q, %v; want %q", key, got, err, want)
		}
	}
	all, err := client.GetAllFlags(posthog.FeatureFlagPayloadNoKey{DistinctId: "u1", PersonProperties: props})
	if err != nil || len(all) != len(sdkFlags) || all["multi"] != "test" {
		t.Errorf("GetAllFlags = %v, %v", all, err)
	}
}
