package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shakedown-dev/shakedown/reference/edge"
	"github.com/shakedown-dev/shakedown/reference/event"
	"github.com/shakedown-dev/shakedown/reference/payload/lzstring"
)

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// encodings turn a JSON body into a request to target (a path with no query).
var encodings = []struct {
	name string
	get  bool
	make func(t testing.TB, target, body string) *http.Request
}{
	{"json", false, func(t testing.TB, target, body string) *http.Request {
		return newRequest("POST", target, "application/json", []byte(body))
	}},
	{"gzip-magic", false, func(t testing.TB, target, body string) *http.Request {
		return newRequest("POST", target, "application/json", gzipped(t, body))
	}},
	{"gzip", false, func(t testing.TB, target, body string) *http.Request {
		return newRequest("POST", target+"?compression=gzip", "text/plain", gzipped(t, body))
	}},
	{"gzip-js", false, func(t testing.TB, target, body string) *http.Request {
		return newRequest("POST", target+"?compression=gzip-js&ver=1.2.3", "text/plain", gzipped(t, body))
	}},
	{"base64", false, func(t testing.TB, target, body string) *http.Request {
		return newRequest("POST", target+"?compression=base64", "text/plain", []byte(b64([]byte(body))))
	}},
	{"b64", false, func(t testing.TB, target, body string) *http.Request {
		return newRequest("POST", target+"?compression=b64", "text/plain", []byte(b64([]byte(body))))
	}},
	{"lz64", false, func(t testing.TB, target, body string) *http.Request {
		return newRequest("POST", target+"?compression=lz64", "text/plain", []byte(lzstring.CompressToBase64(body)))
	}},
	{"form-lz64", false, func(t testing.TB, target, body string) *http.Request {
		f := url.Values{"data": {lzstring.CompressToBase64(body)}, "compression": {"lz64"}}
		return newRequest("POST", target, "application/x-www-form-urlencoded", []byte(f.Encode()))
	}},
	{"form-base64", false, func(t testing.TB, target, body string) *http.Request {
		f := url.Values{"data": {b64([]byte(body))}}
		return newRequest("POST", target, "application/x-www-form-urlencoded", []byte(f.Encode()))
	}},
	{"form-json", false, func(t testing.TB, target, body string) *http.Request {
		f := url.Values{"data": {body}}
		return newRequest("POST", target, "application/x-www-form-urlencoded", []byte(f.Encode()))
	}},
	{"get-data", true, func(t testing.TB, target, body string) *http.Request {
		return newRequest("GET", target+"?data="+url.QueryEscape(b64([]byte(body))), "", nil)
	}},
	{"get-data-lz64", true, func(t testing.TB, target, body string) *http.Request {
		return newRequest("GET", target+"?compression=lz64&data="+url.QueryEscape(lzstring.CompressToBase64(body)), "", nil)
	}},
}

var eventRoutes = []string{"/e", "/i/v0/e", "/batch", "/capture", "/track", "/engage"}

func TestEveryRouteMethodAndEncodingLands(t *testing.T) {
	e := newEnv(t, nil)
	e.startConsumer()
	want := map[string]string{} // distinct id -> event name
	for _, route := range eventRoutes {
		for _, path := range []string{route, route + "/"} {
			for _, enc := range encodings {
				id := fmt.Sprintf("user-%s-%s", strings.ReplaceAll(path, "/", "_"), enc.name)
				name := "ev " + enc.name + " ✓"
				w := e.do(enc.make(t, path, ev(name, id, tokenA, nil)))
				if w.Code != http.StatusOK {
					t.Fatalf("%s %s: status %d, body %s", path, enc.name, w.Code, w.Body)
				}
				expectOK(t, w)
				want[id] = name
			}
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	got := e.waitFor(ids...)
	for id, name := range want {
		c := got[id]
		var data map[string]any
		if err := json.Unmarshal([]byte(c.msg.Data), &data); err != nil {
			t.Fatalf("%s: data %q is not JSON: %v", id, c.msg.Data, err)
		}
		if data["event"] != name {
			t.Errorf("%s: data.event = %v, want %q", id, data["event"], name)
		}
		if c.msg.Token != tokenA || c.key != tokenA+":"+id {
			t.Errorf("%s: token %q key %q", id, c.msg.Token, c.key)
		}
		if u, err := uuid.Parse(c.msg.UUID); err != nil || u.Version() != 7 {
			t.Errorf("%s: uuid %q is not a UUIDv7 (%v)", id, c.msg.UUID, err)
		}
		if c.msg.IP != "192.0.2.7" || c.msg.Now != "2026-03-04T05:06:07.890Z" {
			t.Errorf("%s: ip %q now %q", id, c.msg.IP, c.msg.Now)
		}
	}
	if n := len(e.all()); n != len(want) {
		t.Errorf("Kafka holds %d messages, want exactly %d", n, len(want))
	}
}

func TestBeaconAnswers204(t *testing.T) {
	e := newEnv(t, nil)
	e.startConsumer()
	f := url.Values{"data": {b64([]byte(ev("$pageleave", "beacon-user", tokenA, nil)))}}
	w := e.do(newRequest("POST", "/e/?beacon=1", "application/x-www-form-urlencoded", []byte(f.Encode())))
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("beacon: status %d body %q, want 204 and no body", w.Code, w.Body)
	}
	e.waitFor("beacon-user")
}

func TestBodyShapesAndFields(t *testing.T) {
	e := newEnv(t, nil)
	e.startConsumer()
	clientUUID := "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
	longID := strings.Repeat("é", 250)
	requests := []struct {
		name, path, body string
	}{
		{"single with api_key", "/e", ev("a", "shape-single", tokenA, nil)},
		{"array with token", "/e", "[" + ev("a", "shape-arr-1", "", map[string]any{"token": tokenA}) + "," +
			ev("a", "shape-arr-2", "", map[string]any{"$token": tokenA}) + "]"},
		{"batch envelope", "/batch", `{"api_key":"` + tokenA + `","sent_at":"2026-03-04T05:06:00.000Z","historical_migration":true,"batch":[` +
			ev("b", "shape-batch-1", "", nil) + "," + ev("b", "shape-batch-2", "", nil) + "]}"},
		{"batch envelope token", "/batch/", `{"token":"` + tokenA + `","batch":[` + ev("b", "shape-batch-3", "", nil) + "]}"},
		{"properties.token and properties.distinct_id", "/e", `{"event":"p","properties":{"token":"` + tokenA + `","distinct_id":"shape-props"}}`},
		{"$distinct_id", "/e", `{"event":"p","$distinct_id":"shape-dollar","api_key":"` + tokenA + `"}`},
		{"numeric distinct_id", "/e", `{"event":"n","distinct_id":12345678901234567890,"api_key":"` + tokenA + `"}`},
		{"client uuid", "/e", `{"event":"u","distinct_id":"shape-uuid","uuid":"` + strings.ToUpper(clientUUID) + `","api_key":"` + tokenA + `"}`},
		{"invalid client uuid", "/e", `{"event":"u","distinct_id":"shape-baduuid","uuid":"nope","api_key":"` + tokenA + `"}`},
		{"long distinct_id", "/e", `{"event":"l","distinct_id":"` + longID + `","api_key":"` + tokenA + `"}`},
		{"same token twice", "/e", `{"event":"t","distinct_id":"shape-twice","api_key":"` + tokenA + `","properties":{"token":"` + tokenA + `"}}`},
		{"sent_at from _", "/e?_=1772600767000", ev("s", "shape-underscore", tokenA, nil)},
	}
	for _, r := range requests {
		if w := e.post(r.path, r.body); w.Code != http.StatusOK {
			t.Fatalf("%s: status %d body %s", r.name, w.Code, w.Body)
		}
	}
	cut := strings.Repeat("é", 200)
	got := e.waitFor("shape-single", "shape-arr-1", "shape-arr-2", "shape-batch-1", "shape-batch-2", "shape-batch-3",
		"shape-props", "shape-dollar", "12345678901234567890", "shape-uuid", "shape-baduuid", cut, "shape-twice", "shape-underscore")
	if s := got["shape-batch-1"].msg.SentAt; s != "2026-03-04T05:06:00.000Z" {
		t.Errorf("batch sent_at = %q", s)
	}
	if s := got["shape-underscore"].msg.SentAt; s != "2026-03-04T05:06:07.000Z" {
		t.Errorf("sent_at from _ = %q", s)
	}
	if s := got["shape-single"].msg.SentAt; s != "" {
		t.Errorf("sent_at without one = %q", s)
	}
	if u := got["shape-uuid"].msg.UUID; u != clientUUID {
		t.Errorf("client uuid = %q, want %q", u, clientUUID)
	}
	if u := got["shape-baduuid"].msg.UUID; u == "nope" || uuid.Validate(u) != nil {
		t.Errorf("invalid client uuid kept or not replaced: %q", u)
	}
	if k := got[cut].key; k != tokenA+":"+cut {
		t.Errorf("long distinct id key = %q", k)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(got["shape-props"].msg.Data), &data); err != nil || data["event"] != "p" {
		t.Errorf("data of properties-only event = %q (%v)", got["shape-props"].msg.Data, err)
	}
}

func TestRejectionsAndNeighboursLand(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Tokens = TokenValidatorFunc(func(_ context.Context, tok string) (bool, error) {
			if tok == "phc_flaky" {
				return false, fmt.Errorf("database down")
			}
			if strings.ContainsRune(tok, 0) { // as PostgreSQL answers a text parameter with a NUL
				return false, fmt.Errorf("invalid byte sequence for encoding UTF8: 0x00")
			}
			return tok == tokenA || tok == tokenB, nil
		})
	})
	e.startConsumer()
	bomb := gzipped(t, `{"event":"x","distinct_id":"bad-bomb","api_key":"`+tokenA+`","properties":{"p":"`+strings.Repeat("0", 20<<20)+`"}}`)
	big := ev("big", "bad-big", tokenA, map[string]any{"pad": strings.Repeat("x", 70<<10)})
	bad := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"malformed json", newRequest("POST", "/e", "application/json", []byte(`{"event":"x","distinct_id":"bad-1",`)), 400, "malformed_payload"},
		{"json scalar", newRequest("POST", "/e", "application/json", []byte(`"hello"`)), 400, "invalid_payload"},
		{"empty array", newRequest("POST", "/e", "application/json", []byte(`[]`)), 400, "no_events"},
		{"array of numbers", newRequest("POST", "/e", "application/json", []byte(`[1,2]`)), 400, "invalid_event"},
		{"batch not array", newRequest("POST", "/batch", "application/json", []byte(`{"api_key":"`+tokenA+`","batch":{}}`)), 400, "invalid_batch"},
		{"empty body", newRequest("POST", "/e", "application/json", nil), 400, "malformed_payload"},
		{"bad base64", newRequest("POST", "/e?compression=base64", "text/plain", []byte("%%%")), 400, "malformed_payload"},
		{"bad lz64", newRequest("POST", "/e?compression=lz64", "text/plain", []byte("!!")), 400, "malformed_payload"},
		{"wrong content type", newRequest("POST", "/e", "application/xml", []byte(ev("x", "bad-xml", tokenA, nil))), 400, "unsupported_media_type"},
		{"unknown compression", newRequest("POST", "/e?compression=zstd", "text/plain", []byte(ev("x", "bad-zstd", tokenA, nil))), 400, "unsupported_media_type"},
		{"token with a NUL byte", newRequest("POST", "/e", "application/json", []byte(`{"event":"x","distinct_id":"bad-nul","api_key":"phc_a\u0000b"}`)), 401, "invalid_token"},
		{"oversized event body", newRequest("POST", "/e", "application/json", []byte(big)), 413, "payload_too_large"},
		{"gzip bomb", newRequest("POST", "/batch", "application/json", bomb), 413, "payload_too_large"},
		{"missing token", newRequest("POST", "/e", "application/json", []byte(ev("x", "bad-notoken", "", nil))), 401, "missing_token"},
		{"mixed tokens", newRequest("POST", "/batch", "application/json", []byte("["+ev("x", "bad-mix-1", tokenA, nil)+","+ev("x", "bad-mix-2", tokenB, nil)+"]")), 401, "mixed_tokens"},
		{"mixed envelope and event", newRequest("POST", "/batch", "application/json", []byte(`{"api_key":"`+tokenA+`","batch":[`+ev("x", "bad-mix-3", "", map[string]any{"properties": map[string]any{"token": tokenB}})+`]}`)), 401, "mixed_tokens"},
		{"personal key", newRequest("POST", "/e", "application/json", []byte(ev("x", "bad-phx", "phx_secret", nil))), 401, "personal_api_key"},
		{"unknown token", newRequest("POST", "/e", "application/json", []byte(ev("x", "bad-unknown", "phc_nobody", nil))), 401, "invalid_token"},
		{"non-string token", newRequest("POST", "/e", "application/json", []byte(`{"event":"x","distinct_id":"bad-numtok","api_key":42}`)), 401, "invalid_token"},
		{"token check fails", newRequest("POST", "/e", "application/json", []byte(ev("x", "bad-flaky", "phc_flaky", nil))), 503, "token_check_failed"},
		{"missing event", newRequest("POST", "/e", "application/json", []byte(`{"distinct_id":"bad-noevent","api_key":"`+tokenA+`"}`)), 400, "missing_event_name"},
		{"empty event", newRequest("POST", "/e", "application/json", []byte(ev("", "bad-emptyevent", tokenA, nil))), 400, "missing_event_name"},
		{"event not string", newRequest("POST", "/e", "application/json", []byte(`{"event":7,"distinct_id":"bad-evnum","api_key":"`+tokenA+`"}`)), 400, "invalid_event_name"},
		{"missing distinct_id", newRequest("POST", "/e", "application/json", []byte(ev("x", "", tokenA, nil))), 400, "missing_distinct_id"},
		{"object distinct_id", newRequest("POST", "/e", "application/json", []byte(`{"event":"x","distinct_id":{"a":1},"api_key":"`+tokenA+`"}`)), 400, "invalid_distinct_id"},
		{"one bad event in batch", newRequest("POST", "/batch", "application/json", []byte(`{"api_key":"`+tokenA+`","batch":[`+ev("x", "bad-batchgood", "", nil)+`,`+ev("x", "", "", nil)+`]}`)), 400, "missing_distinct_id"},
		{"wrong method", newRequest("PUT", "/e", "application/json", []byte(ev("x", "bad-put", tokenA, nil))), 405, "method_not_allowed"},
		{"unknown route", newRequest("POST", "/nope", "application/json", []byte(ev("x", "bad-route", tokenA, nil))), 404, "unknown_route"},
	}
	var goods []string
	good := func(i int) {
		id := fmt.Sprintf("good-%d", i)
		expectOK(t, e.post("/e", ev("ok", id, tokenA, nil)))
		goods = append(goods, id)
	}
	good(0)
	for i, b := range bad {
		w := e.do(b.req)
		if w.Code != b.status {
			t.Errorf("%s: status %d body %s, want %d", b.name, w.Code, w.Body, b.status)
		} else if r := decodeError(t, w); r.Code != b.code {
			t.Errorf("%s: code %q (%s), want %q", b.name, r.Code, r.Detail, b.code)
		}
		good(i + 1)
	}
	e.waitFor(goods...)
	for _, c := range e.all() {
		if strings.HasPrefix(c.msg.DistinctID, "bad-") {
			t.Errorf("a refused request's event reached Kafka: %q", c.msg.DistinctID)
		}
	}
	// The detail names the event and the fix.
	w := e.post("/batch", `{"api_key":"`+tokenA+`","batch":[`+ev("x", "a", "", nil)+`,`+ev("x", "b", "", nil)+`,`+ev("x", "c", "", nil)+`,`+ev("x", "", "", nil)+`]}`)
	if r := decodeError(t, w); r.Detail != "event 3 has no distinct_id; set distinct_id or properties.distinct_id" || r.Type != "validation_error" {
		t.Errorf("detail = %q type %q", r.Detail, r.Type)
	}
}

// failProduce makes the cluster answer every produce request with a retriable
// error until the returned function is called.
func failProduce(e *env) (restore func()) {
	var on atomic.Bool
	on.Store(true)
	e.cluster.ControlKey(kmsg.Produce.Int16(), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		if !on.Load() {
			e.cluster.DropControl()
			return nil, nil, false
		}
		e.cluster.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return func() { on.Store(false) }
}

// swallowProduce makes the cluster never answer produce requests until restored.
func swallowProduce(e *env) (restore func()) {
	var on atomic.Bool
	on.Store(true)
	e.cluster.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !on.Load() {
			e.cluster.DropControl()
			return nil, nil, false
		}
		e.cluster.KeepControl()
		return nil, nil, true
	})
	return func() { on.Store(false) }
}

func TestUnacknowledgedEventsGet503(t *testing.T) {
	const timeout = 300 * time.Millisecond
	cases := []struct {
		name  string
		fault func(*env) func()
	}{
		{"broker answers errors", failProduce},
		{"broker never answers", swallowProduce},
		{"cluster closed", func(e *env) func() { e.cluster.Close(); return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.ProduceTimeout = timeout },
				kgo.ProduceRequestTimeout(time.Second), kgo.RequestTimeoutOverhead(time.Second), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
			e.startConsumer()
			expectOK(t, e.post("/e", ev("before", "u503-before", tokenA, nil)))
			e.waitFor("u503-before")

			restore := tc.fault(e)
			start := time.Now()
			w := e.post("/batch", "["+ev("during", "u503-during-1", tokenA, nil)+","+ev("during", "u503-during-2", tokenA, nil)+"]")
			elapsed := time.Since(start)
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d body %s, want 503", w.Code, w.Body)
			}
			if r := decodeError(t, w); r.Code != "kafka_unavailable" {
				t.Fatalf("code %q", r.Code)
			}
			if w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if elapsed > timeout+2*time.Second {
				t.Fatalf("503 took %v, want about %v", elapsed, timeout)
			}
			if restore == nil {
				return
			}
			restore()
			deadline := time.Now().Add(15 * time.Second)
			for {
				w := e.post("/e", ev("after", "u503-after", tokenA, nil))
				if w.Code == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("capture never recovered: %d %s", w.Code, w.Body)
				}
				time.Sleep(50 * time.Millisecond)
			}
			e.waitFor("u503-after")
		})
	}
}

func TestRateLimitPerToken(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RatePerToken = 0.001; c.RateBurst = 5 })
	for i := 0; i < 5; i++ {
		expectOK(t, e.post("/e", ev("r", fmt.Sprint("rate-", i), tokenA, nil)))
	}
	w := e.post("/e", ev("r", "rate-over", tokenA, nil))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("after the burst: status %d body %s, want 429", w.Code, w.Body)
	}
	if r := decodeError(t, w); r.Code != "rate_limited" || r.Type != "rate_limited" {
		t.Fatalf("429 reply %+v", r)
	}
	// Another project is not affected.
	expectOK(t, e.post("/e", ev("r", "rate-other", tokenB, nil)))
	// A batch counts its events.
	e2 := newEnv(t, func(c *Config) { c.RatePerToken = 0.001; c.RateBurst = 3 })
	expectOK(t, e2.post("/batch", "["+ev("r", "a", tokenA, nil)+","+ev("r", "b", tokenA, nil)+"]"))
	if w := e2.post("/batch", "["+ev("r", "c", tokenA, nil)+","+ev("r", "d", tokenA, nil)+"]"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("batch past the burst: %d, want 429", w.Code)
	}
}

// TestCORS is the allow-list policy: listed origins are reflected with credentials
// on the API routes, error replies included (TestCORSPolicies has the other policies).
func TestCORS(t *testing.T) {
	const origin = "https://app.example.com"
	e := newEnv(t, func(c *Config) { c.CORS = edge.CORS{Origins: []string{origin}} })
	for _, path := range []string{"/e/", "/batch", "/decide"} {
		r := newRequest("OPTIONS", path, "", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "content-type, x-posthog")
		w := e.do(r)
		h := w.Header()
		if w.Code != http.StatusNoContent {
			t.Errorf("preflight %s: status %d", path, w.Code)
		}
		if h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("preflight %s: origin %q credentials %q", path, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"))
		}
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Allow-Headers") != "content-type, x-posthog" {
			t.Errorf("preflight %s: methods %q headers %q", path, h.Get("Access-Control-Allow-Methods"), h.Get("Access-Control-Allow-Headers"))
		}
	}
	r := newRequest("POST", "/e", "application/json", []byte(ev("c", "cors", tokenA, nil)))
	r.Header.Set("Origin", origin)
	w := e.do(r)
	expectOK(t, w)
	if w.Header().Get("Access-Control-Allow-Origin") != origin || w.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("POST: CORS headers %v", w.Header())
	}
	if w.Header().Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Errorf("browsers hide Retry-After from the SDKs unless it is exposed: %v", w.Header())
	}
	r = newRequest("POST", "/e", "application/json", []byte(ev("c", "", tokenA, nil)))
	r.Header.Set("Origin", origin)
	if w := e.do(r); w.Header().Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("error replies lack CORS headers: %v", w.Header())
	}
	if w := e.post("/e", ev("c", "nocors", tokenA, nil)); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no Origin, yet Access-Control-Allow-Origin = %q", w.Header().Get("Access-Control-Allow-Origin"))
	}
}

func TestDecide(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(newRequest("POST", "/decide/?v=3", "application/json", []byte(`{"token":"x"}`)))
	if w.Code != http.StatusNotFound || decodeError(t, w).Code != "decide_disabled" {
		t.Fatalf("nil Decide: %d %s", w.Code, w.Body)
	}
	var got string
	e2 := newEnv(t, func(c *Config) {
		c.CORS = edge.CORS{Origins: []string{"https://a.example"}}
		c.Decide = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.URL.RawQuery
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"featureFlags":{}}`))
		})
	})
	r := newRequest("POST", "/decide?v=3", "application/json", []byte(`{"token":"x"}`))
	r.Header.Set("Origin", "https://a.example")
	w = e2.do(r)
	if w.Code != http.StatusOK || w.Body.String() != `{"featureFlags":{}}` || got != "v=3" {
		t.Fatalf("delegated decide: %d %s query %q", w.Code, w.Body, got)
	}
	if w.Header().Get("Access-Control-Allow-Origin") != "https://a.example" {
		t.Error("decide reply lacks CORS")
	}
	// Current SDKs ask /flags and load remote config from /array/<token>/...; both go to decide.
	for _, path := range []string{"/flags/?v=2", "/flags?v=2", "/array/phc_x/config", "/array/phc_x/config.js"} {
		got = ""
		method := "POST"
		if strings.HasPrefix(path, "/array/") {
			method = "GET"
		}
		if w := e2.do(newRequest(method, path, "application/json", nil)); w.Code != http.StatusOK {
			t.Errorf("%s %s: %d %s, want it handed to decide", method, path, w.Code, w.Body)
		}
	}
	if w := e.do(newRequest("POST", "/flags/?v=2", "application/json", nil)); w.Code != http.StatusNotFound {
		t.Errorf("/flags without decide: %d", w.Code)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, nil)
	if w := e.do(newRequest("GET", "/_liveness", "", nil)); w.Code != http.StatusOK {
		t.Fatalf("liveness %d", w.Code)
	}
	if w := e.do(newRequest("GET", "/_readiness/", "", nil)); w.Code != http.StatusOK {
		t.Fatalf("readiness with Kafka up: %d %s", w.Code, w.Body)
	}
	expectOK(t, e.post("/e", ev("m", "metrics-1", tokenA, nil)))
	expectOK(t, e.post("/batch", "["+ev("m", "metrics-2", tokenA, nil)+","+ev("m", "metrics-3", tokenA, nil)+"]"))
	_ = e.post("/e", ev("m", "", tokenA, nil))
	_ = e.post("/e", ev("m", "x", "phx_key", nil))

	w := e.do(newRequest("GET", "/metrics", "", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("metrics %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		"shakedown_capture_events_accepted_total 3",
		`shakedown_capture_http_requests_total{code="200",route="/e"} 1`,
		`shakedown_capture_http_requests_total{code="200",route="/batch"} 1`,
		`shakedown_capture_http_requests_total{code="400",route="/e"} 1`,
		`shakedown_capture_http_requests_total{code="401",route="/e"} 1`,
		`shakedown_capture_rejected_requests_total{reason="missing_distinct_id"} 1`,
		`shakedown_capture_rejected_requests_total{reason="personal_api_key"} 1`,
		`shakedown_capture_kafka_produce_duration_seconds_count{outcome="ok"} 2`,
		`shakedown_capture_received_bytes_total{route="/e"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "shakedown_capture_received_bytes_total" {
			for _, m := range mf.GetMetric() {
				if m.GetCounter().GetValue() <= 0 {
					t.Errorf("received bytes %v", m)
				}
			}
		}
	}

	e.cluster.Close()
	time.Sleep(ReadinessCacheTTL) // the answer with Kafka up is cached that long
	if w := e.do(newRequest("GET", "/_readiness", "", nil)); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"kafka"`) {
		t.Fatalf("readiness with Kafka down: %d %s; want 503 naming kafka", w.Code, w.Body)
	}
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := New(nil, Config{Tokens: AnyToken{}}); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := New(e.client, Config{}); err == nil {
		t.Error("missing Tokens accepted")
	}
	if _, err := New(e.client, Config{Tokens: AnyToken{}, Registerer: e.reg}); err == nil {
		t.Error("registering the same metrics twice accepted")
	}
	s, err := New(e.client, Config{Tokens: AnyToken{}, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Topic != event.IngestionTopic || s.cfg.MaxEventBody != 2<<20 || s.cfg.MaxBatchBody != 20<<20 {
		t.Errorf("defaults: %+v", s.cfg)
	}
}

// TestOverRealHTTP runs one gzip request through a real listener and client.
func TestOverRealHTTP(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Tokens = AnyToken{} })
	e.startConsumer()
	ts := httptestServer(t, e.srv)
	resp, err := http.Post(ts+"/i/v0/e/?compression=gzip-js", "text/plain", bytes.NewReader(gzipped(t, ev("real", "real-http", "phc_any", nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := e.waitFor("real-http")
	if got["real-http"].msg.IP != "127.0.0.1" || got["real-http"].msg.Token != "phc_any" {
		t.Errorf("message %+v", got["real-http"].msg)
	}
}

// A NUL byte cannot be stored in PostgreSQL text, so capture replaces it in distinct
// ids (as PostHog does) instead of passing the worker a value it can never store.
func TestNULInDistinctIDIsReplaced(t *testing.T) {
	e := newEnv(t, nil)
	e.startConsumer()
	w := e.post("/e", `{"event":"x","distinct_id":"nul\u0000id","api_key":"`+tokenA+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	e.waitFor("nul\uFFFDid")
}

// A request that holds the whole in-flight byte budget (a slow batch of unknown length
// that already sent most of it) makes the next one wait outside with 503 and
// Retry-After instead of piling up bodies in memory; once it finishes, requests are
// served again.
func TestInFlightByteBudget(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxEventBody, c.MaxBatchBody, c.MaxInFlightBytes = 4<<10, 16<<10, 16<<10
	})
	pr, pw := io.Pipe()
	slow := httptest.NewRequest(http.MethodPost, "/batch", pr)
	slow.ContentLength = -1 // unknown: charged the route's whole limit
	slow.Header.Set("Content-Type", "application/json")
	slowDone := make(chan int, 1)
	go func() { slowDone <- e.do(slow).Code }()
	if _, err := pw.Write([]byte(`[` + strings.Repeat(" ", 16000))); err != nil { // the handler is now reading
		t.Fatal(err)
	}
	waitCharged(t, e.srv, 16001)

	w := e.post("/e", ev("x", "waits", tokenA, map[string]any{"pad": strings.Repeat("x", 1000)}))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "overloaded") {
		t.Fatalf("with the budget taken: %d %q (Retry-After %q), want 503 overloaded", w.Code, w.Body.String(), w.Header().Get("Retry-After"))
	}

	pw.Write([]byte(ev("x", "slow", tokenA, nil) + `]`))
	pw.Close()
	if code := <-slowDone; code != http.StatusOK {
		t.Fatalf("the slow batch got %d", code)
	}
	if w := e.post("/e", ev("x", "after", tokenA, nil)); w.Code != http.StatusOK {
		t.Fatalf("after the budget was released: %d %s", w.Code, w.Body.String())
	}
}
