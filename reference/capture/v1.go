package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// v1Path is the route of PostHog's v1 capture API.
const v1Path = "/i/v1/analytics/events"

// Per-event results of a v1 reply. posthog-node resends the events answered
// resultRetry, reports those answered resultDrop as lost, and takes any other
// result, or a uuid missing from the results, as delivered.
const (
	resultOK    = "ok"
	resultDrop  = "drop"
	resultRetry = "retry"
)

// v1Result is one event's entry in a v1 reply.
type v1Result struct {
	Result  string `json:"result"`
	Details string `json:"details,omitempty"`
}

// v1Reply is the body of a 2xx v1 reply: a result per event uuid, as sent.
type v1Reply struct {
	Results map[string]v1Result `json:"results"`
}

// severity orders results for uuids sent more than once: the worst one is answered.
func severity(result string) int {
	switch result {
	case resultRetry:
		return 2
	case resultDrop:
		return 1
	}
	return 0
}

// answer records res for key unless key already has a result at least as severe.
func answer(results map[string]v1Result, key string, res v1Result) {
	if have, ok := results[key]; ok && severity(have.Result) >= severity(res.Result) {
		return
	}
	results[key] = res
}

// serveV1 handles POST /i/v1/analytics/events, the capture API posthog-node 5.70
// uses when POSTHOG_CAPTURE_MODE=v1 (its dist/capture-v1/sender.js and transform.js):
//   - the project token comes as "Authorization: Bearer <token>", not in the body;
//   - the body is {"created_at":..., "historical_migration"?:true, "batch":[events]},
//     gzipped with Content-Encoding: gzip unless the client turned compression off;
//     each event has event, uuid, distinct_id, timestamp, session_id/window_id,
//     options and properties (see v0Data for how they map to a /batch event);
//   - a 2xx reply is {"results":{"<uuid>":{"result":"ok"|"drop"|"retry","details"?:...}}}.
//     Every uuid gets a result, and only an event Kafka acknowledged gets "ok": an
//     event Kafka did not acknowledge is "retry", an event that can never be stored
//     (invalid, or too large for Kafka) is "drop" with the reason in details;
//   - the SDK resends the whole batch on 404, 408, 429, 500, 502, 503 and 504, and
//     gives it up on any other status. So a body that cannot be read is a 400,
//     auth failures are 401, and when Kafka acknowledged none of the events (and
//     none is a drop) the reply is 503 with Retry-After, as on the other routes.
//
// Limits, the in-flight budget, encodings, token rules and rate limits are /batch's.
func (s *Server) serveV1(w http.ResponseWriter, r *http.Request, label string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		s.fail(w, r, &apiError{Status: http.StatusMethodNotAllowed, Type: typeValidation, Code: "method_not_allowed",
			Detail: r.Method + " is not supported on " + v1Path + `; POST {"created_at":...,"batch":[...]} with Authorization: Bearer <project token>`})
		return
	}
	// The token is checked before the body is read: a refused client costs no body bytes.
	token, aerr := bearerToken(r)
	if aerr == nil {
		aerr = s.checkToken(r.Context(), token)
	}
	if aerr != nil {
		s.failV1(w, r, aerr)
		return
	}
	now := s.cfg.Now()
	limit := s.cfg.MaxBatchBody
	charged, release, ok := s.admit(w, r, label, limit)
	if !ok {
		return
	}
	defer release()
	body, aerr := readBody(r, limit)
	if aerr == nil {
		aerr = charged.chargeDecoded(len(body))
	}
	if aerr != nil {
		s.failV1(w, r, aerr)
		return
	}
	req, aerr := parseV1Request(body, s.limits())
	if aerr != nil {
		s.failV1(w, r, aerr)
		return
	}
	for _, t := range req.tokens {
		if t != token {
			s.failV1(w, r, unauthorized("mixed_tokens", "the body carries a project token (api_key, token, $token or properties.token) "+
				"that differs from the Authorization: Bearer token; send each project's events in its own request, with its token in the header only"))
			return
		}
	}

	results := make(map[string]v1Result, len(req.events))
	dropped := map[string]int{} // reason -> events
	drop := func(key string, e *apiError) {
		answer(results, key, v1Result{Result: resultDrop, Details: e.Code + ": " + e.Detail})
		dropped[e.Code]++
	}
	sentAt := v1SentAt(r, req.sentAt)
	sdkInfo := r.Header.Get("PostHog-Sdk-Info")
	ip, nowText := s.clientIP(r), event.FormatNow(now)
	var (
		msgs []event.Message
		keys []string // keys[i] is the result key of msgs[i]
	)
	for i := range req.events {
		key := req.uuids[i]
		id, err := uuid.Parse(key)
		if err != nil {
			drop(key, badRequest("invalid_uuid", "event %d: uuid %q is not a UUID; give every event a UUID (the SDK makes a UUIDv7)", i, truncateChars(key, 64)))
			continue
		}
		if _, aerr := req.eventName(i); aerr != nil {
			drop(key, aerr)
			continue
		}
		distinctID, aerr := req.distinctID(i)
		if aerr != nil {
			drop(key, aerr)
			continue
		}
		data, aerr := req.v0Data(i, sdkInfo)
		if aerr != nil {
			drop(key, aerr)
			continue
		}
		msgs = append(msgs, event.Message{
			UUID: id.String(), DistinctID: distinctID, IP: ip, Data: string(data),
			Now: nowText, SentAt: sentAt, Token: token,
		})
		keys = append(keys, key)
	}
	if len(msgs) > 0 {
		if aerr := s.allow(token, len(msgs), now); aerr != nil {
			s.failV1(w, r, aerr)
			return
		}
	}

	acked, retries := 0, 0
	for i, err := range s.produceEach(r.Context(), msgs) {
		switch {
		case err == nil:
			answer(results, keys[i], v1Result{Result: resultOK})
			acked++
		case errors.Is(err, kerr.MessageTooLarge):
			drop(keys[i], &apiError{Code: "event_too_large", Detail: "the event is larger than Kafka accepts; drop large properties"})
		default:
			answer(results, keys[i], v1Result{Result: resultRetry, Details: fmt.Sprintf(
				"kafka_unavailable: Kafka did not acknowledge the event within %s; it is not confirmed stored, resend it", s.cfg.ProduceTimeout)})
			retries++
		}
	}
	s.metrics.events.Add(float64(acked))
	if retries > 0 && acked == 0 && len(dropped) == 0 {
		s.fail(w, r, unavailable("kafka_unavailable",
			"Kafka did not acknowledge the events within %s; nothing is confirmed stored, retry the request later", s.cfg.ProduceTimeout))
		return
	}
	for reason, n := range dropped {
		s.metrics.eventRejects.WithLabelValues(reason).Add(float64(n))
	}
	if retries > 0 {
		s.metrics.eventRejects.WithLabelValues("kafka_unavailable").Add(float64(retries))
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, http.StatusOK, v1Reply{Results: results})
}

// failV1 is fail, with the Bearer challenge on a 401.
func (s *Server) failV1(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	s.fail(w, r, e)
}

// bearerToken returns the token of the request's one "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, *apiError) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0 || strings.TrimSpace(values[0]) == "":
		return "", unauthorized("missing_token", "no project token; send it as Authorization: Bearer <project token> (phc_...)")
	case len(values) > 1:
		return "", unauthorized("invalid_authorization", "the request has %d Authorization headers; send one, Authorization: Bearer <project token>", len(values))
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", unauthorized("invalid_authorization", "Authorization must be \"Bearer <project token>\" (phc_...)")
	}
	return token, nil
}

// parseV1Request reads a v1 body: {"created_at":..., "batch":[events]}. Each event must
// carry its uuid as a string, since its result is keyed by it: without one, no result
// could tell the client what became of the event, so the whole body is refused.
func parseV1Request(body []byte, lim limits) (*request, *apiError) {
	body = bytes.TrimSpace(body)
	if aerr := lim.checkShape(body); aerr != nil {
		return nil, aerr
	}
	var top map[string]json.RawMessage
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &top) != nil {
		return nil, badRequest("invalid_payload", `body must be {"created_at":...,"batch":[events]}`)
	}
	var items []json.RawMessage
	if batch, ok := top["batch"]; !ok || isNull(batch) || json.Unmarshal(batch, &items) != nil {
		return nil, badRequest("invalid_batch", `batch must be a JSON array of events: {"created_at":...,"batch":[events]}`)
	}
	// No per-event size limit here: v1 events may be as large as the body (Kafka's
	// event.MaxMessageBytes bounds them), and odd events are dropped one by one.
	req := &request{perEvent: true}
	for _, k := range [...]string{"api_key", "token", "$token"} {
		t, err := stringField(top[k])
		if err != nil {
			return nil, unauthorized("invalid_token", "%s must be a string", k)
		}
		req.addToken(t)
	}
	if s, err := stringField(top["created_at"]); err == nil {
		req.sentAt = s
	}
	if h, ok := top["historical_migration"]; ok {
		_ = json.Unmarshal(h, &req.historical)
	}
	if aerr := req.addEvents(items); aerr != nil {
		return nil, aerr
	}
	req.uuids = make([]string, len(req.events))
	for i, ev := range req.events {
		raw, ok := ev.fields["uuid"]
		if !ok || isNull(raw) {
			return nil, badRequest("missing_uuid", "event %d has no uuid; every event needs one, its result is keyed by it", i)
		}
		s, err := stringField(raw)
		if err != nil {
			return nil, badRequest("invalid_uuid", "event %d: uuid must be a string", i)
		}
		req.uuids[i] = s
	}
	return req, nil
}

// v1SentAt is when the client sent this attempt: the PostHog-Request-Timestamp header
// (set per attempt), else the batch's created_at (kept across the SDK's retries, so
// clock-skew correction would shift retried events by the retry delay).
func v1SentAt(r *http.Request, createdAt string) string {
	if h := strings.TrimSpace(r.Header.Get("PostHog-Request-Timestamp")); h != "" {
		if _, err := time.Parse(time.RFC3339Nano, h); err == nil {
			return h
		}
	}
	return createdAt
}

// v1Options maps the options posthog-node lifts out of an event's properties back to
// the properties they came from (OPTION_SENTINELS in its capture-v1/transform.js).
var v1Options = map[string]string{
	"cookieless_mode":         "$cookieless_mode",
	"disable_skew_correction": "$ignore_sent_at",
	"process_person_profile":  "$process_person_profile",
	"product_tour_id":         "$product_tour_id",
}

// v1TopLevel maps the fields posthog-node promotes out of properties back (TOPLEVEL_SENTINELS).
var v1TopLevel = map[string]string{"session_id": "$session_id", "window_id": "$window_id"}

// v0Data returns event i of a v1 request as the event JSON /batch carries, so the
// worker reads both alike ($process_person_profile, $ignore_sent_at and the rest stay
// where it looks for them): options and session_id/window_id go back into properties
// (over any property of the same name), and $lib/$lib_version, which the SDK strips,
// come from the PostHog-Sdk-Info header ("posthog-node/5.70.0") unless present.
// The other fields are kept as sent.
func (r *request) v0Data(i int, sdkInfo string) ([]byte, *apiError) {
	ev := r.events[i]
	props := map[string]json.RawMessage{}
	if raw := ev.fields["properties"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &props); err != nil || props == nil {
			return nil, badRequest("invalid_properties", "event %d: properties must be a JSON object", i)
		}
	}
	if raw := ev.fields["options"]; !isNull(raw) {
		var opts map[string]json.RawMessage
		if err := json.Unmarshal(raw, &opts); err != nil || opts == nil {
			return nil, badRequest("invalid_options", "event %d: options must be a JSON object", i)
		}
		for k, v := range opts {
			if p, ok := v1Options[k]; ok {
				props[p] = v
			}
		}
	}
	for field, p := range v1TopLevel {
		if v := ev.fields[field]; !isNull(v) {
			props[p] = v
		}
	}
	if cut := strings.LastIndexByte(sdkInfo, '/'); cut > 0 && cut < len(sdkInfo)-1 {
		for p, v := range map[string]string{"$lib": sdkInfo[:cut], "$lib_version": sdkInfo[cut+1:]} {
			if _, ok := props[p]; !ok {
				props[p] = marshalJSON(v)
			}
		}
	}
	fields := maps.Clone(ev.fields)
	fields["properties"] = marshalJSON(props)
	return marshalJSON(fields), nil
}

// marshalJSON encodes v without escaping <, > and &; v is a string or a map of raw
// JSON values that was just decoded, so it always encodes.
func marshalJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}
