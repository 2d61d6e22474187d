package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/shakedown-dev/shakedown/reference/event"
	"github.com/shakedown-dev/shakedown/reference/payload"
)

// maxDistinctIDChars is how many characters of a distinct_id are kept.
const maxDistinctIDChars = 200

// request is a decoded capture body: the events plus what the envelope said.
type request struct {
	events []rawEvent
	// tokens are the distinct non-empty tokens found anywhere in the request, in order seen.
	tokens []string
	// sentAt is the batch envelope's sent_at, if any.
	sentAt string
	// historical is the envelope's historical_migration flag.
	historical bool
	// single is true when the body was one bare event (error details then say "the event").
	single bool
	// uuids are the events' uuid fields as sent (v1 only, where each result is keyed by them).
	uuids []string
	// maxEvent caps each event's JSON size in bytes (0: no limit).
	maxEvent int64
	// perEvent (v1) leaves events whose properties is not an object to the caller,
	// which answers for each event, instead of refusing the whole request.
	perEvent bool
}

// limits bound what one request may hold before it is decoded (see Config.MaxProperties,
// Config.MaxDepth and Config.MaxEventBody).
type limits struct {
	shape payload.Shape
	event int64
}

// limits returns the Server's decoding limits.
func (s *Server) limits() limits {
	return limits{shape: payload.Shape{MaxDepth: s.cfg.MaxDepth, MaxKeys: s.cfg.MaxProperties}, event: s.cfg.MaxEventBody}
}

// checkShape refuses body when it nests too deeply or holds an object with too many
// keys, before anything is decoded into maps.
func (l limits) checkShape(body []byte) *apiError {
	if err := payload.CheckShape(body, l.shape); err != nil {
		var pe *payload.Error
		if errors.As(err, &pe) {
			code := "too_deep"
			if pe.Kind == payload.TooLarge {
				code = "too_many_properties"
			}
			return &apiError{Status: pe.Kind.HTTPStatus(), Type: typeValidation, Code: code, Detail: pe.Detail}
		}
		return badRequest("invalid_json", "%v", err)
	}
	return nil
}

// rawEvent is one event with the fields capture reads out of it.
type rawEvent struct {
	raw        json.RawMessage
	fields     map[string]json.RawMessage
	properties map[string]json.RawMessage
}

// parseRequest splits body into events and collects the request's tokens.
// The shape limits are checked first, on the raw bytes.
func parseRequest(body []byte, lim limits) (*request, *apiError) {
	body = bytes.TrimSpace(body)
	if aerr := lim.checkShape(body); aerr != nil {
		return nil, aerr
	}
	req := &request{maxEvent: lim.event}
	var items []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, badRequest("invalid_json", "body is not a JSON array of events: %v", err)
		}
	case len(body) > 0 && body[0] == '{':
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			return nil, badRequest("invalid_json", "body is not a JSON object: %v", err)
		}
		batch, isBatch := top["batch"]
		if !isBatch {
			req.single = true
			items = []json.RawMessage{body}
			break
		}
		if err := json.Unmarshal(batch, &items); err != nil || isNull(batch) {
			return nil, badRequest("invalid_batch", "batch must be a JSON array of events")
		}
		for _, k := range [...]string{"api_key", "token", "$token"} {
			t, err := stringField(top[k])
			if err != nil {
				return nil, unauthorized("invalid_token", "%s must be a string", k)
			}
			req.addToken(t)
		}
		if s, err := stringField(top["sent_at"]); err == nil {
			req.sentAt = s
		}
		if h, ok := top["historical_migration"]; ok {
			_ = json.Unmarshal(h, &req.historical)
		}
	default:
		return nil, badRequest("invalid_payload", "body must be a JSON event, an array of events or {\"api_key\":...,\"batch\":[...]}")
	}
	if aerr := req.addEvents(items); aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// addEvents splits items into events and collects their tokens. It refuses events
// over maxEvent bytes (413) and events whose properties is not an object (400): the
// worker could store neither, so capture must not acknowledge them.
func (req *request) addEvents(items []json.RawMessage) *apiError {
	if len(items) == 0 {
		return badRequest("no_events", "the request holds no events; send at least one")
	}
	for i, item := range items {
		if req.maxEvent > 0 && int64(len(item)) > req.maxEvent {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeValidation, Code: "event_too_large",
				Detail: fmt.Sprintf("%s is %d bytes of JSON, over the limit of %d per event; drop large properties", req.name(i), len(item), req.maxEvent)}
		}
	}
	req.events = make([]rawEvent, len(items))
	for i, item := range items {
		ev := &req.events[i]
		ev.raw = item
		if err := json.Unmarshal(item, &ev.fields); err != nil || ev.fields == nil {
			return badRequest("invalid_event", "%s is not a JSON object", req.name(i))
		}
		if p, ok := ev.fields["properties"]; ok && !isNull(p) {
			p = bytes.TrimSpace(p)
			switch {
			case p[0] == '{':
				if err := json.Unmarshal(p, &ev.properties); err != nil {
					return badRequest("invalid_properties", "%s: properties is not a JSON object: %v", req.name(i), err)
				}
			case req.perEvent: // the caller drops this event alone
			default: // PostHog's capture refuses the same: its properties field is a map
				return badRequest("invalid_properties", "%s: properties must be a JSON object such as {\"$current_url\": \"...\"}, not %s; send the properties as an object", req.name(i), event.JSONKind(p))
			}
		}
		for _, k := range [...]string{"api_key", "token", "$token"} {
			t, err := stringField(ev.fields[k])
			if err != nil {
				return unauthorized("invalid_token", "%s: %s must be a string", req.name(i), k)
			}
			req.addToken(t)
		}
		t, err := stringField(ev.properties["token"])
		if err != nil {
			return unauthorized("invalid_token", "%s: properties.token must be a string", req.name(i))
		}
		req.addToken(t)
	}
	return nil
}

func (r *request) addToken(t string) {
	if t == "" {
		return
	}
	for _, have := range r.tokens {
		if have == t {
			return
		}
	}
	r.tokens = append(r.tokens, t)
}

// name is how error details refer to event i.
func (r *request) name(i int) string {
	if r.single {
		return "the event"
	}
	return fmt.Sprintf("event %d", i)
}

// eventName returns the event's name, or a 400 naming the fix.
func (r *request) eventName(i int) (string, *apiError) {
	ev := r.events[i]
	raw, ok := ev.fields["event"]
	if !ok || isNull(raw) {
		return "", badRequest("missing_event_name", "%s has no event name; set \"event\", e.g. \"$pageview\"", r.name(i))
	}
	name, err := stringField(raw)
	if err != nil {
		return "", badRequest("invalid_event_name", "%s: event must be a string", r.name(i))
	}
	if strings.TrimSpace(name) == "" {
		return "", badRequest("missing_event_name", "%s has an empty event name; set \"event\", e.g. \"$pageview\"", r.name(i))
	}
	return name, nil
}

// distinctID returns the event's distinct_id stringified and cut to 200
// characters, looked up in distinct_id, $distinct_id, properties.distinct_id.
func (r *request) distinctID(i int) (string, *apiError) {
	ev := r.events[i]
	for _, raw := range [...]json.RawMessage{ev.fields["distinct_id"], ev.fields["$distinct_id"], ev.properties["distinct_id"]} {
		id, err := stringify(raw)
		if err != nil {
			return "", badRequest("invalid_distinct_id", "%s: distinct_id must be a string or a number", r.name(i))
		}
		if id = strings.TrimSpace(id); id != "" {
			// NUL cannot be stored in PostgreSQL text; PostHog replaces it too.
			return truncateChars(strings.ReplaceAll(id, "\x00", "\uFFFD"), maxDistinctIDChars), nil
		}
	}
	return "", badRequest("missing_distinct_id", "%s has no distinct_id; set distinct_id or properties.distinct_id", r.name(i))
}

// uuidOf returns the client's uuid when it is a valid UUID, else a new UUIDv7.
func (r *request) uuidOf(i int) (string, error) {
	if s, err := stringField(r.events[i].fields["uuid"]); err == nil && s != "" {
		if u, err := uuid.Parse(s); err == nil {
			return u.String(), nil
		}
	}
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("generating event uuid: %w", err)
	}
	return u.String(), nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// stringField decodes raw as a string; absent and null give "".
func stringField(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// stringify renders a JSON scalar as PostHog does: strings as themselves,
// numbers as written, booleans as true/false; absent and null give "".
func stringify(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return "", nil
	}
	switch c := raw[0]; {
	case c == '"':
		return stringField(raw)
	case c == '-' || (c >= '0' && c <= '9'), string(raw) == "true", string(raw) == "false":
		return string(raw), nil
	}
	return "", fmt.Errorf("not a scalar: %.20s", raw)
}

// truncateChars cuts s to at most n characters (runes).
func truncateChars(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
