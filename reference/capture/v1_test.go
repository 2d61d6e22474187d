package capture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shakedown-dev/shakedown/reference/edge"
	"github.com/shakedown-dev/shakedown/reference/event"
)

// The requests below are shaped as posthog-node 5.70 sends them with
// POSTHOG_CAPTURE_MODE=v1 (dist/capture-v1/sender.js buildHeaders/sendOnce,
// transform.js buildV1Event), and replies are read as its classify does.

const (
	sdkInfo          = "posthog-node/5.70.0"
	requestTimestamp = "2026-03-04T05:06:06.000Z" // PostHog-Request-Timestamp of every test request
)

func newUUID(t testing.TB) string {
	t.Helper()
	u, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// sdkEvent is one event as buildV1Event makes it; extra fields are merged at the top level.
func sdkEvent(id, name, distinctID string, props, extra map[string]any) map[string]any {
	if props == nil {
		props = map[string]any{}
	}
	m := map[string]any{"event": name, "uuid": id, "distinct_id": distinctID,
		"timestamp": "2026-03-04T05:06:01.000Z", "options": map[string]any{}, "properties": props}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// v1Body is the batch envelope sendV1Batch posts (JSON.stringify: <, > and & as they are).
func v1Body(t testing.TB, events ...map[string]any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"created_at": "2026-03-04T05:06:05.000Z", "batch": events}); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b.Bytes())
}

// v1Request is the request posthog-node sends: body gzipped with Content-Encoding
// when gz, and Authorization: Bearer token unless token is empty.
func v1Request(t testing.TB, token string, body []byte, gz bool) *http.Request {
	t.Helper()
	if gz {
		body = gzipped(t, string(body))
	}
	r := newRequest(http.MethodPost, v1Path, "application/json", body)
	if gz {
		r.Header.Set("Content-Encoding", "gzip")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	r.Header.Set("PostHog-Sdk-Info", sdkInfo)
	r.Header.Set("PostHog-Attempt", "1")
	r.Header.Set("PostHog-Request-Id", newUUID(t))
	r.Header.Set("PostHog-Request-Timestamp", requestTimestamp)
	return r
}

// sdkResult is a per-event result as the SDK reads it.
type sdkResult struct {
	Result  string  `json:"result"`
	Details *string `json:"details"`
}

// v1Results checks the reply is a 200 the SDK can parse (parseResponse) and returns its results.
func v1Results(t testing.TB, w *httptest.ResponseRecorder) map[string]sdkResult {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d body %s, want 200 with per-event results", w.Code, w.Body)
	}
	var reply struct {
		Results map[string]sdkResult `json:"results"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil || reply.Results == nil {
		t.Fatalf("reply %s is not {\"results\":{...}} (%v)", w.Body, err)
	}
	return reply.Results
}

// wantResults checks got holds exactly the uuids of want, each with its result.
func wantResults(t testing.TB, got map[string]sdkResult, want map[string]string) {
	t.Helper()
	for id, res := range want {
		if got[id].Result != res {
			t.Errorf("uuid %s: result %+v, want %q", id, got[id], res)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("results name uuid %q, which was not sent", id)
		}
	}
}

func TestV1AnswersOKPerUUIDAndLandsLikeBatch(t *testing.T) {
	e := newEnv(t, nil)
	e.startConsumer()
	props := func() map[string]any {
		return map[string]any{"$current_url": "https://example.com/<b>&", "$set": map[string]any{"plan": "pro"}, "n": 1}
	}
	for _, gz := range []bool{false, true} {
		name := map[bool]string{false: "json", true: "gzip"}[gz]
		t.Run(name, func(t *testing.T) {
			upper := strings.ToUpper(newUUID(t)) // the SDK matches results by the uuid exactly as sent
			plain := newUUID(t)
			personless := sdkEvent(upper, "$pageview", "v1-"+name+"-a", props(), map[string]any{
				"session_id": "sess-1", "window_id": "win-1",
				"options": map[string]any{"process_person_profile": false, "disable_skew_correction": true},
			})
			w := e.do(v1Request(t, tokenA, v1Body(t, personless, sdkEvent(plain, "signup", "v1-"+name+"-b", nil, nil)), gz))
			wantResults(t, v1Results(t, w), map[string]string{upper: "ok", plain: "ok"})

			// The same event as posthog-node's /batch mode sends it.
			twin := map[string]any{"api_key": tokenA, "sent_at": requestTimestamp, "batch": []any{map[string]any{
				"event": "$pageview", "uuid": strings.ToLower(upper), "distinct_id": "v0-" + name + "-a",
				"timestamp": "2026-03-04T05:06:01.000Z",
				"properties": mergeMaps(props(), map[string]any{
					"$session_id": "sess-1", "$window_id": "win-1", "$process_person_profile": false,
					"$ignore_sent_at": true, "$lib": "posthog-node", "$lib_version": "5.70.0",
				}),
			}}}
			twinBody, _ := json.Marshal(twin)
			expectOK(t, e.post("/batch", string(twinBody)))

			got := e.waitFor("v1-"+name+"-a", "v1-"+name+"-b", "v0-"+name+"-a")
			v1, v0 := got["v1-"+name+"-a"], got["v0-"+name+"-a"]
			if v1.msg.UUID != strings.ToLower(upper) {
				t.Errorf("stored uuid %q, want %q", v1.msg.UUID, strings.ToLower(upper))
			}
			if v1.key != tokenA+":v1-"+name+"-a" || v1.msg.Token != tokenA {
				t.Errorf("key %q token %q", v1.key, v1.msg.Token)
			}
			if v1.msg.IP != v0.msg.IP || v1.msg.Now != v0.msg.Now || v1.msg.SentAt != requestTimestamp || v0.msg.SentAt != requestTimestamp {
				t.Errorf("envelope differs from /batch's: v1 %+v, /batch %+v", v1.msg, v0.msg)
			}
			var d1, d0 map[string]any
			if err := json.Unmarshal([]byte(v1.msg.Data), &d1); err != nil {
				t.Fatalf("v1 data %q: %v", v1.msg.Data, err)
			}
			if err := json.Unmarshal([]byte(v0.msg.Data), &d0); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d1["properties"], d0["properties"]) {
				t.Errorf("v1 properties\n %v\ndiffer from /batch's\n %v", d1["properties"], d0["properties"])
			}
			for _, k := range []string{"event", "timestamp"} {
				if d1[k] != d0[k] {
					t.Errorf("data.%s: v1 %v, /batch %v", k, d1[k], d0[k])
				}
			}
			if !strings.Contains(v1.msg.Data, "https://example.com/<b>&") {
				t.Errorf("data re-escaped the client's strings: %s", v1.msg.Data)
			}
		})
	}
}

func mergeMaps(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func TestV1BearerToken(t *testing.T) {
	e := newEnv(t, nil)
	e.startConsumer()
	body := func(id string, extra map[string]any) []byte {
		return v1Body(t, sdkEvent(newUUID(t), "x", id, nil, extra))
	}
	withHeader := func(r *http.Request, values ...string) *http.Request {
		r.Header.Del("Authorization")
		for _, v := range values {
			r.Header.Add("Authorization", v)
		}
		return r
	}
	envelopeUUID := newUUID(t)
	envelope := func(id, token string) []byte {
		b, _ := json.Marshal(map[string]any{"api_key": token, "batch": []any{sdkEvent(envelopeUUID, "x", id, nil, nil)}})
		return b
	}
	bad := []struct {
		name string
		req  *http.Request
		code string
	}{
		{"no Authorization", v1Request(t, "", body("v1bad-none", nil), false), "missing_token"},
		{"token only in the body", v1Request(t, "", envelope("v1bad-body", tokenA), false), "missing_token"},
		{"Basic scheme", withHeader(v1Request(t, "", body("v1bad-basic", nil), false), "Basic "+tokenA), "invalid_authorization"},
		{"Bearer without token", withHeader(v1Request(t, "", body("v1bad-empty", nil), false), "Bearer "), "invalid_authorization"},
		{"two Authorization headers", withHeader(v1Request(t, "", body("v1bad-two", nil), false), "Bearer "+tokenA, "Bearer "+tokenB), "invalid_authorization"},
		{"personal key", v1Request(t, "phx_secret", body("v1bad-phx", nil), false), "personal_api_key"},
		{"unknown token", v1Request(t, "phc_nobody", body("v1bad-unknown", nil), false), "invalid_token"},
		{"envelope token differs", v1Request(t, tokenA, envelope("v1bad-mix-env", tokenB), false), "mixed_tokens"},
		{"event token differs", v1Request(t, tokenA, body("v1bad-mix-ev", map[string]any{"properties": map[string]any{"token": tokenB}}), true), "mixed_tokens"},
	}
	for _, b := range bad {
		w := e.do(b.req)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d body %s, want 401", b.name, w.Code, w.Body)
			continue
		}
		if r := decodeError(t, w); r.Code != b.code || r.Type != "authentication_error" {
			t.Errorf("%s: code %q type %q (%s), want %q", b.name, r.Code, r.Type, r.Detail, b.code)
		}
		if w.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s: WWW-Authenticate %q", b.name, w.Header().Get("WWW-Authenticate"))
		}
	}
	// The same token in body and header is one token; the scheme is case-insensitive.
	wantResults(t, v1Results(t, e.do(v1Request(t, tokenA, envelope("v1good-env", tokenA), false))), map[string]string{envelopeUUID: "ok"})
	lower := withHeader(v1Request(t, "", body("v1good-lower", nil), false), "bearer "+tokenB)
	if w := e.do(lower); w.Code != http.StatusOK {
		t.Fatalf("lower-case bearer: %d %s", w.Code, w.Body)
	}
	got := e.waitFor("v1good-env", "v1good-lower")
	if got["v1good-lower"].msg.Token != tokenB {
		t.Errorf("token %q, want the header's %q", got["v1good-lower"].msg.Token, tokenB)
	}
	for _, c := range e.all() {
		if strings.HasPrefix(c.msg.DistinctID, "v1bad-") {
			t.Errorf("a refused request's event reached Kafka: %q", c.msg.DistinctID)
		}
	}
}

func TestV1GzipBody(t *testing.T) {
	e := newEnv(t, nil)
	e.startConsumer()
	id := newUUID(t)
	r := v1Request(t, tokenA, v1Body(t, sdkEvent(id, "gz", "v1-gzip", nil, nil)), true)
	if r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatal("test request is not gzipped")
	}
	wantResults(t, v1Results(t, e.do(r)), map[string]string{id: "ok"})
	e.waitFor("v1-gzip")
	// Declared gzip that is not gzip is a body the server cannot read: 400, not retried.
	r = v1Request(t, tokenA, v1Body(t, sdkEvent(newUUID(t), "gz", "v1-notgzip", nil, nil)), false)
	r.Header.Set("Content-Encoding", "gzip")
	if w := e.do(r); w.Code != http.StatusBadRequest || decodeError(t, w).Code != "malformed_payload" {
		t.Errorf("plain body declared gzip: %d %s, want 400 malformed_payload", w.Code, w.Body)
	}
}

func TestV1BodyLimitIsBatchLimit(t *testing.T) {
	e := newEnv(t, nil) // MaxEventBody 64 KB, MaxBatchBody 256 KB
	e.startConsumer()
	pad := func(n int) map[string]any { return map[string]any{"pad": strings.Repeat("x", n)} }
	id := newUUID(t)
	// Over the event routes' limit but within /batch's: accepted.
	wantResults(t, v1Results(t, e.do(v1Request(t, tokenA, v1Body(t, sdkEvent(id, "big", "v1-100k", pad(100<<10), nil)), false))),
		map[string]string{id: "ok"})
	huge := v1Body(t, sdkEvent(newUUID(t), "huge", "v1bad-huge", pad(300<<10), nil))
	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"raw body over the limit", v1Request(t, tokenA, huge, false)},
		{"gzip body inflating past the limit", v1Request(t, tokenA, huge, true)},
	} {
		w := e.do(tc.req)
		if w.Code != http.StatusRequestEntityTooLarge || decodeError(t, w).Code != "payload_too_large" {
			t.Errorf("%s: %d %s, want 413 payload_too_large", tc.name, w.Code, w.Body)
		}
	}
	e.waitFor("v1-100k")
	for _, c := range e.all() {
		if c.msg.DistinctID == "v1bad-huge" {
			t.Error("an event of a 413 request reached Kafka")
		}
	}
}

func TestV1PerEventResults(t *testing.T) {
	e := newEnv(t, nil)
	e.startConsumer()
	good, dup := newUUID(t), newUUID(t)
	ids := map[string]string{} // name -> uuid
	for _, n := range []string{"no-distinct", "no-name", "props-array", "options-string"} {
		ids[n] = newUUID(t)
	}
	batch := []map[string]any{
		sdkEvent(good, "ok", "v1-good", nil, nil),
		sdkEvent(ids["no-distinct"], "x", "", nil, nil),
		sdkEvent(ids["no-name"], "", "v1bad-noname", nil, nil),
		sdkEvent("nope", "x", "v1bad-nope", nil, nil),
		sdkEvent(ids["props-array"], "x", "v1bad-props", nil, map[string]any{"properties": []any{1}}),
		sdkEvent(ids["options-string"], "x", "v1bad-options", nil, map[string]any{"options": "yes"}),
		// One uuid, two events, one of which cannot be stored: never "ok" for it.
		sdkEvent(dup, "x", "v1-dup", nil, nil),
		sdkEvent(dup, "x", "", nil, nil),
	}
	got := v1Results(t, e.do(v1Request(t, tokenA, v1Body(t, batch...), true)))
	wantResults(t, got, map[string]string{
		good: "ok", ids["no-distinct"]: "drop", ids["no-name"]: "drop", "nope": "drop",
		ids["props-array"]: "drop", ids["options-string"]: "drop", dup: "drop",
	})
	for id, prefix := range map[string]string{
		ids["no-distinct"]: "missing_distinct_id: ", ids["no-name"]: "missing_event_name: ", "nope": "invalid_uuid: ",
		ids["props-array"]: "invalid_properties: ", ids["options-string"]: "invalid_options: ",
	} {
		if d := got[id].Details; d == nil || !strings.HasPrefix(*d, prefix) {
			t.Errorf("uuid %s: details %v, want %q...", id, d, prefix)
		}
	}
	if got[good].Details != nil {
		t.Errorf("ok result carries details %q", *got[good].Details)
	}

	// Bodies the server cannot read are refused whole, with 400 (the SDK does not resend them).
	refused := []struct {
		name, body, code string
	}{
		{"not JSON", `{"batch":[`, "malformed_payload"},
		{"array body", `[` + ev("x", "v1body-arr", "", nil) + `]`, "invalid_payload"},
		{"no batch", `{"created_at":"2026-03-04T05:06:05.000Z"}`, "invalid_batch"},
		{"empty batch", `{"batch":[]}`, "no_events"},
		{"event not an object", `{"batch":[1]}`, "invalid_event"},
		{"missing uuid", `{"batch":[{"event":"x","distinct_id":"v1body-nouuid"}]}`, "missing_uuid"},
		{"numeric uuid", `{"batch":[{"event":"x","distinct_id":"v1body-numuuid","uuid":7}]}`, "invalid_uuid"},
	}
	for _, tc := range refused {
		w := e.do(v1Request(t, tokenA, []byte(tc.body), false))
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d body %s, want 400", tc.name, w.Code, w.Body)
		} else if r := decodeError(t, w); r.Code != tc.code {
			t.Errorf("%s: code %q (%s), want %q", tc.name, r.Code, r.Detail, tc.code)
		}
	}

	e.waitFor("v1-good", "v1-dup")
	for _, c := range e.all() {
		if strings.HasPrefix(c.msg.DistinctID, "v1bad-") || strings.HasPrefix(c.msg.DistinctID, "v1body-") {
			t.Errorf("a dropped event reached Kafka: %q", c.msg.DistinctID)
		}
	}
}

func TestV1KafkaDownIsRetryable(t *testing.T) {
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
			before := newUUID(t)
			wantResults(t, v1Results(t, e.do(v1Request(t, tokenA, v1Body(t, sdkEvent(before, "b", "v1-before", nil, nil)), true))), map[string]string{before: "ok"})
			e.waitFor("v1-before")

			restore := tc.fault(e)
			// Nothing acknowledged: 503, which the SDK resends whole after Retry-After.
			w := e.do(v1Request(t, tokenA, v1Body(t, sdkEvent(newUUID(t), "d", "v1-during-1", nil, nil), sdkEvent(newUUID(t), "d", "v1-during-2", nil, nil)), true))
			if w.Code != http.StatusServiceUnavailable || decodeError(t, w).Code != "kafka_unavailable" || w.Header().Get("Retry-After") == "" {
				t.Fatalf("Kafka down: %d %s (Retry-After %q), want 503 kafka_unavailable with Retry-After", w.Code, w.Body, w.Header().Get("Retry-After"))
			}
			// With a drop to report, the reply is 200: drop for the bad event, retry for the unacknowledged one.
			pending, bad := newUUID(t), newUUID(t)
			w = e.do(v1Request(t, tokenA, v1Body(t, sdkEvent(pending, "d", "v1-during-3", nil, nil), sdkEvent(bad, "d", "", nil, nil)), true))
			wantResults(t, v1Results(t, w), map[string]string{pending: "retry", bad: "drop"})
			if w.Header().Get("Retry-After") == "" {
				t.Error("retry results without Retry-After")
			}
			if restore == nil {
				return
			}
			restore()
			deadline := time.Now().Add(15 * time.Second)
			for {
				id := newUUID(t)
				if w := e.do(v1Request(t, tokenA, v1Body(t, sdkEvent(id, "a", "v1-after", nil, nil)), true)); w.Code == http.StatusOK && v1Results(t, w)[id].Result == "ok" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("capture never recovered")
				}
				time.Sleep(50 * time.Millisecond)
			}
			e.waitFor("v1-after")
		})
	}
}

// failProduceOn makes one broker answer every produce request with a retriable
// error, while the others store records as usual.
func failProduceOn(e *env, node int32) {
	e.cluster.ControlKey(kmsg.Produce.Int16(), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		if e.cluster.CurrentNode() != node {
			return nil, nil, false
		}
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
}

// When Kafka stores some events of a request and not others, each event is answered
// for itself: "ok" only for those in Kafka, "retry" for the rest.
func TestV1PartialAckNeverOK(t *testing.T) {
	e := newEnvBrokers(t, 2, func(c *Config) { c.ProduceTimeout = 300 * time.Millisecond },
		kgo.ProduceRequestTimeout(time.Second), kgo.RequestTimeoutOverhead(time.Second), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	const failing, healthy = 0, 1
	for p, node := range []int32{failing, healthy, healthy} {
		if err := e.cluster.MoveTopicPartition(event.IngestionTopic, int32(p), node); err != nil {
			t.Fatalf("placing partition %d on node %d: %v", p, node, err)
		}
	}
	e.startConsumer()
	failProduceOn(e, failing)

	var batch []map[string]any
	distinct := map[string]string{} // uuid -> distinct id
	for i := 0; i < 24; i++ {
		id := newUUID(t)
		distinct[id] = fmt.Sprintf("v1-partial-%d", i)
		batch = append(batch, sdkEvent(id, "p", distinct[id], nil, nil))
	}
	got := v1Results(t, e.do(v1Request(t, tokenA, v1Body(t, batch...), true)))
	var oks, retries []string
	for id := range distinct {
		switch got[id].Result {
		case "ok":
			oks = append(oks, distinct[id])
		case "retry":
			retries = append(retries, distinct[id])
		default:
			t.Errorf("uuid %s: result %+v, want ok or retry", id, got[id])
		}
	}
	if len(oks) == 0 || len(retries) == 0 {
		t.Fatalf("test setup: want events on both brokers, got %d ok and %d retry", len(oks), len(retries))
	}
	e.waitFor(oks...)
	stored := map[string]bool{}
	for _, c := range e.all() {
		stored[c.msg.DistinctID] = true
	}
	for _, d := range retries {
		if stored[d] {
			t.Errorf("%s was answered retry but is in Kafka", d)
		}
	}
}

func TestV1EventTooLargeForKafkaIsDropped(t *testing.T) {
	e := newEnv(t, nil, kgo.ProducerBatchMaxBytes(8<<10))
	e.startConsumer()
	small, big := newUUID(t), newUUID(t)
	batch := v1Body(t, sdkEvent(small, "s", "v1-small", nil, nil),
		sdkEvent(big, "b", "v1bad-big", map[string]any{"pad": strings.Repeat("x", 20<<10)}, nil))
	got := v1Results(t, e.do(v1Request(t, tokenA, batch, true)))
	wantResults(t, got, map[string]string{small: "ok", big: "drop"})
	if d := got[big].Details; d == nil || !strings.HasPrefix(*d, "event_too_large: ") {
		t.Errorf("details %v", d)
	}
	e.waitFor("v1-small")
	for _, c := range e.all() {
		if c.msg.DistinctID == "v1bad-big" {
			t.Error("the dropped event is in Kafka")
		}
	}
}

func TestV1RateLimited(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RatePerToken = 0.001; c.RateBurst = 3 })
	two := func() []byte {
		return v1Body(t, sdkEvent(newUUID(t), "r", "a", nil, nil), sdkEvent(newUUID(t), "r", "b", nil, nil))
	}
	v1Results(t, e.do(v1Request(t, tokenA, two(), false)))
	w := e.do(v1Request(t, tokenA, two(), false))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || decodeError(t, w).Code != "rate_limited" {
		t.Fatalf("past the burst: %d %s, want 429 rate_limited with Retry-After", w.Code, w.Body)
	}
}

// A slow v1 body holds the bytes it sent of the in-flight budget, like a slow /batch: other requests get 503 and Retry-After until it is done.
func TestV1InFlightByteBudget(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxEventBody, c.MaxBatchBody, c.MaxInFlightBytes = 4<<10, 16<<10, 16<<10
	})
	pr, pw := io.Pipe()
	slow := httptest.NewRequest(http.MethodPost, v1Path, pr)
	slow.ContentLength = -1
	slow.Header.Set("Content-Type", "application/json")
	slow.Header.Set("Authorization", "Bearer "+tokenA)
	slowDone := make(chan *httptest.ResponseRecorder, 1)
	go func() { slowDone <- e.do(slow) }()
	if _, err := pw.Write([]byte(`{"batch":` + strings.Repeat(" ", 15500))); err != nil { // the handler is now reading
		t.Fatal(err)
	}
	waitCharged(t, e.srv, 15509)
	for _, r := range []*http.Request{
		newRequest(http.MethodPost, "/e", "application/json", []byte(ev("x", "waits", tokenA, map[string]any{"pad": strings.Repeat("x", 1000)}))),
		v1Request(t, tokenA, v1Body(t, sdkEvent(newUUID(t), "x", "waits-v1", map[string]any{"pad": strings.Repeat("x", 1000)}, nil)), false),
	} {
		w := e.do(r)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || decodeError(t, w).Code != "overloaded" {
			t.Fatalf("%s with the budget taken: %d %s, want 503 overloaded with Retry-After", r.URL.Path, w.Code, w.Body)
		}
	}
	id := newUUID(t)
	rest, _ := json.Marshal([]any{sdkEvent(id, "x", "slow", nil, nil)})
	pw.Write(append(rest, '}'))
	pw.Close()
	wantResults(t, v1Results(t, <-slowDone), map[string]string{id: "ok"})
	after := newUUID(t)
	wantResults(t, v1Results(t, e.do(v1Request(t, tokenA, v1Body(t, sdkEvent(after, "x", "after", nil, nil)), false))), map[string]string{after: "ok"})
}

func TestV1MethodsAndCORS(t *testing.T) {
	const origin = "https://app.example.com"
	e := newEnv(t, func(c *Config) { c.CORS = edge.CORS{Origins: []string{origin}} })
	r := newRequest(http.MethodOptions, v1Path, "", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "authorization, content-type, content-encoding, posthog-sdk-info")
	w := e.do(r)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "authorization") {
		t.Errorf("preflight: %d %v", w.Code, w.Header())
	}
	r = v1Request(t, tokenA, v1Body(t, sdkEvent(newUUID(t), "c", "v1-cors", nil, nil)), false)
	r.Header.Set("Origin", origin)
	w = e.do(r)
	v1Results(t, w)
	if w.Header().Get("Access-Control-Allow-Origin") != origin || w.Header().Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Errorf("POST: CORS headers %v", w.Header())
	}
	r = v1Request(t, "", v1Body(t, sdkEvent(newUUID(t), "c", "v1-cors", nil, nil)), false)
	r.Header.Set("Origin", origin)
	if w := e.do(r); w.Code != http.StatusUnauthorized || w.Header().Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("401 without CORS: %d %v", w.Code, w.Header())
	}
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		w := e.do(newRequest(method, v1Path+"/", "", nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST, OPTIONS" || decodeError(t, w).Code != "method_not_allowed" {
			t.Errorf("%s: %d Allow %q", method, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestV1Metrics(t *testing.T) {
	e := newEnv(t, nil)
	e.do(v1Request(t, tokenA, v1Body(t, sdkEvent(newUUID(t), "m", "m1", nil, nil), sdkEvent(newUUID(t), "m", "m2", nil, nil)), true))
	e.do(v1Request(t, tokenA, v1Body(t, sdkEvent(newUUID(t), "m", "m3", nil, nil), sdkEvent(newUUID(t), "m", "", nil, nil)), false))
	e.do(v1Request(t, "phx_key", v1Body(t, sdkEvent(newUUID(t), "m", "m4", nil, nil)), false))
	body := e.do(newRequest("GET", "/metrics", "", nil)).Body.String()
	for _, want := range []string{
		"shakedown_capture_events_accepted_total 3",
		`shakedown_capture_http_requests_total{code="200",route="/i/v1/analytics/events"} 2`,
		`shakedown_capture_http_requests_total{code="401",route="/i/v1/analytics/events"} 1`,
		`shakedown_capture_rejected_requests_total{reason="personal_api_key"} 1`,
		`shakedown_capture_rejected_events_total{reason="missing_distinct_id"} 1`,
		`shakedown_capture_kafka_produce_duration_seconds_count{outcome="ok"} 2`,
		`shakedown_capture_received_bytes_total{route="/i/v1/analytics/events"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// The 404 of an unknown path lists what the server does serve, flags included,
// instead of sending every caller to the event routes.
func TestUnknownRouteNamesTheRoutes(t *testing.T) {
	var decideCalled atomic.Bool
	withDecide := newEnv(t, func(c *Config) {
		c.Decide = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { decideCalled.Store(true) })
	})
	for _, tc := range []struct {
		name  string
		e     *env
		flags string
	}{
		{"without decide", newEnv(t, nil), "not served here"},
		{"with decide", withDecide, "feature flags and remote config at /flags"},
	} {
		for _, path := range []string{"/nope", "/i/v1/flags", "/i/v1/analytics"} {
			w := tc.e.do(newRequest(http.MethodGet, path, "", nil))
			if w.Code != http.StatusNotFound {
				t.Errorf("%s GET %s: %d", tc.name, path, w.Code)
				continue
			}
			r := decodeError(t, w)
			if r.Code != "unknown_route" || r.Type != "not_found" {
				t.Errorf("%s GET %s: %+v", tc.name, path, r)
			}
			for _, want := range []string{"GET " + path, "/batch", v1Path, "/flags", tc.flags, "/_readiness", "/metrics"} {
				if !strings.Contains(r.Detail, want) {
					t.Errorf("%s GET %s: detail %q lacks %q", tc.name, path, r.Detail, want)
				}
			}
			if strings.Contains(r.Detail, "send events to") {
				t.Errorf("%s GET %s: detail %q sends the caller to the event routes", tc.name, path, r.Detail)
			}
		}
	}
	if decideCalled.Load() {
		t.Error("an unknown path reached decide")
	}
}
