package worker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// Dead-letter reasons, used as the "reason" header, in the envelope and as a metric label.
const (
	reasonInvalidMessage    = "invalid_message"
	reasonInvalidData       = "invalid_data"
	reasonMissingEvent      = "missing_event"
	reasonInvalidUUID       = "invalid_uuid"
	reasonInvalidProperties = "invalid_properties"
	reasonUnknownToken      = "unknown_token"
	reasonInvalidValue      = "invalid_value" // a value PostgreSQL refuses, e.g. a NUL byte
	// reasonInvalidPersonUpdate: the event is stored, but its $set, $set_once or
	// $group_set could not be applied (not an object, or refused by PostgreSQL); the
	// message is dead-lettered with this reason so the dropped update is not lost.
	reasonInvalidPersonUpdate = "invalid_person_update"
)

// maxIDChars is how many characters of an id read from properties ($anon_distinct_id,
// alias, group types and keys) are kept, as capture keeps of a distinct_id.
const maxIDChars = 200

// Event names that change which person a distinct_id belongs to.
const (
	eventIdentify    = "$identify"
	eventCreateAlias = "$create_alias"
)

// eventGroupIdentify sets a group's properties. It creates no person: posthog-node and
// posthog-go send it with the distinct_id "$<type>_<key>" when given none.
const eventGroupIdentify = "$groupidentify"

// poisonError marks a message that can never be processed: it goes to the dead-letter
// topic instead of being retried.
type poisonError struct {
	reason string
	detail string
}

func (e *poisonError) Error() string { return e.reason + ": " + e.detail }

func poison(reason, format string, args ...any) error {
	return &poisonError{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// dropUpdate describes a person or group update left out of a stored event.
func dropUpdate(format string, args ...any) *poisonError {
	return &poisonError{reason: reasonInvalidPersonUpdate, detail: fmt.Sprintf(format, args...)}
}

// parsedEvent is one Kafka message made ready for persons and ClickHouse.
type parsedEvent struct {
	msg        event.Message
	uuid       uuid.UUID
	name       string
	properties []byte // JSON object for the events.properties column
	set        []byte // JSON object of $set, nil when empty
	setOnce    []byte // JSON object of $set_once, nil when empty
	// mergeWith is the other distinct_id of an $identify ($anon_distinct_id) or
	// $create_alias (alias); empty for other events.
	mergeWith string
	identify  bool
	// personless: $process_person_profile is false, or the event is a
	// $groupidentify, so the event creates and updates no person ($set, $set_once and merges are ignored, as PostHog
	// does); it carries its distinct_id's person if one exists.
	personless bool
	timestamp  time.Time
	// groups are the entries of $groups (type -> key) with a type and key, by type.
	groups []groupRef
	// groupIdentify is set for a $groupidentify with a $group_type and $group_key.
	groupIdentify *groupIdentify
	// dropped are the person and group updates of the event that cannot be applied;
	// the event is stored without them, and each is counted and dead-lettered.
	dropped []*poisonError
}

// decodeData reads the fields of rawData from an event's JSON by their exact
// names, as capture reads them: encoding/json would also fill a struct field
// from a key differing only in case ("EVENT", "Properties"), letting a key
// capture ignored decide what the worker stores.
func decodeData(b []byte) (rawData, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return rawData{}, fmt.Errorf("data is not an event JSON object: %w", err)
	}
	d := rawData{Properties: m["properties"], Timestamp: m["timestamp"], Offset: m["offset"], SentAt: m["sent_at"],
		Set: m["$set"], SetOnce: m["$set_once"]}
	if ev, ok := m["event"]; ok && !isNull(ev) {
		if err := json.Unmarshal(ev, &d.Event); err != nil {
			return rawData{}, fmt.Errorf("event is not a string: %w", err)
		}
	}
	return d, nil
}

// rawData is the part of PostHog's event JSON the worker reads.
type rawData struct {
	Event      string          `json:"event"`
	Properties json.RawMessage `json:"properties"`
	Timestamp  json.RawMessage `json:"timestamp"`
	Offset     json.RawMessage `json:"offset"`
	SentAt     json.RawMessage `json:"sent_at"`
	Set        json.RawMessage `json:"$set"`
	SetOnce    json.RawMessage `json:"$set_once"`
}

// earliest and latest bound what a ClickHouse DateTime (UInt32 seconds) can hold.
var (
	earliest = time.Unix(0, 0)
	latest   = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
)

// parseMessage decodes a Kafka record value into a parsedEvent. now is when the worker
// handles it, used when capture's own "now" is missing or unreadable. Errors are *poisonError.
func parseMessage(value []byte, now time.Time) (parsedEvent, error) {
	msg, err := event.Decode(value)
	if err != nil {
		return parsedEvent{}, poison(reasonInvalidMessage, "%v", err)
	}
	id, err := uuid.Parse(msg.UUID)
	if err != nil {
		return parsedEvent{}, poison(reasonInvalidUUID, "uuid %q: %v", msg.UUID, err)
	}
	data, err := decodeData([]byte(msg.Data))
	if err != nil {
		return parsedEvent{}, poison(reasonInvalidData, "%v", err)
	}
	if data.Event == "" {
		return parsedEvent{}, poison(reasonMissingEvent, "data has no event name")
	}
	props := map[string]json.RawMessage{}
	if len(data.Properties) > 0 && !isNull(data.Properties) {
		if err := json.Unmarshal(data.Properties, &props); err != nil {
			return parsedEvent{}, poison(reasonInvalidProperties, "properties is not a JSON object: %v", err)
		}
	}
	var personDropped []*poisonError
	set, drop := personUpdate("$set", props["$set"], data.Set)
	personDropped = append(personDropped, drop...)
	setOnce, drop := personUpdate("$set_once", props["$set_once"], data.SetOnce)
	personDropped = append(personDropped, drop...)
	if _, ok := props["$ip"]; !ok && msg.IP != "" {
		props["$ip"], _ = json.Marshal(msg.IP)
	}
	p := parsedEvent{msg: msg, uuid: id, name: data.Event, set: set, setOnce: setOnce}
	if p.properties, err = json.Marshal(props); err != nil {
		return parsedEvent{}, poison(reasonInvalidProperties, "re-encode properties: %v", err)
	}
	switch data.Event {
	case eventIdentify:
		p.mergeWith, p.identify = cleanID(jsonString(props["$anon_distinct_id"])), true
	case eventCreateAlias:
		p.mergeWith = cleanID(jsonString(props["alias"]))
	}
	if p.mergeWith == msg.DistinctID {
		p.mergeWith = ""
	}
	p.groups = parseGroups(props["$groups"])
	if data.Event == eventGroupIdentify {
		p.groupIdentify, drop = parseGroupIdentify(props)
		p.dropped = append(p.dropped, drop...)
	}
	if data.Event == eventGroupIdentify || bytes.Equal(bytes.TrimSpace(props["$process_person_profile"]), []byte("false")) {
		p.personless = true
		p.set, p.setOnce, p.mergeWith, p.identify = nil, nil, "", false
		personDropped = nil // PostHog ignores a personless event's $set and $set_once
	}
	p.dropped = append(p.dropped, personDropped...)
	sentAt := msg.SentAt
	if sentAt == "" {
		sentAt = jsonString(data.SentAt)
	}
	_, ignoreSentAt := props["$ignore_sent_at"]
	p.timestamp = eventTimestamp(parseTime(msg.Now, now), data.Timestamp, data.Offset, sentAt, ignoreSentAt)
	return p, nil
}

// parseGroups reads $groups, an object of group type -> group key, sorted by type so
// that new types get their indexes in a stable order. Keys may be strings or numbers;
// entries with an empty type or key, and a $groups that is not an object, are ignored,
// as PostHog ignores them.
func parseGroups(raw json.RawMessage) []groupRef {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make([]groupRef, 0, len(m))
	for typ, v := range m {
		typ := cleanID(typ)
		if key := cleanID(jsonString(v)); typ != "" && key != "" {
			out = append(out, groupRef{typ: typ, key: key})
		}
	}
	slices.SortFunc(out, func(a, b groupRef) int { return strings.Compare(a.typ, b.typ) })
	return out
}

// parseGroupIdentify reads a $groupidentify's $group_type, $group_key and $group_set;
// nil when the type or key is missing (the event is stored, no group is set). A
// $group_set that is not an object is dropped (returned, to be dead-lettered), as a
// bad $set is: the group is still created, with no properties set.
func parseGroupIdentify(props map[string]json.RawMessage) (*groupIdentify, []*poisonError) {
	typ, key := cleanID(jsonString(props["$group_type"])), cleanID(jsonString(props["$group_key"]))
	if typ == "" || key == "" {
		return nil, nil
	}
	set, dropped := personUpdate("$group_set", props["$group_set"])
	if set == nil {
		set = []byte("{}")
	}
	return &groupIdentify{groupRef: groupRef{typ: typ, key: key}, set: set}, dropped
}

// eventTimestamp adjusts the client's clock to capture's the way PostHog does: with both
// timestamp and sent_at, now - (sent_at - timestamp); with timestamp only, timestamp;
// with offset (ms), now - offset; else now. Anything out of DateTime's range gives now.
func eventTimestamp(now time.Time, rawTS, rawOffset json.RawMessage, sentAt string, ignoreSentAt bool) time.Time {
	ts := now
	if s := jsonString(rawTS); s != "" {
		if t, ok := parseTimeOK(s); ok {
			ts = t
			if sa, ok := parseTimeOK(sentAt); ok && !ignoreSentAt {
				ts = now.Add(-sa.Sub(t))
			}
		}
	} else if off, ok := jsonNumber(rawOffset); ok {
		ts = now.Add(-time.Duration(off * float64(time.Millisecond)))
	}
	if ts.Before(earliest) || ts.After(latest) {
		return now
	}
	return ts
}

// personUpdate merges the JSON objects of field ($set, $set_once, $group_set) left to
// right (later keys win) into an object PostgreSQL's jsonb accepts: NUL becomes U+FFFD
// in keys and strings (as PostHog's plugin-server does), invalid UTF-8 and lone
// surrogates too. It is nil when all are empty. A value that is not an object (nor
// null) is left out and returned as a dropped update; the event is stored regardless.
func personUpdate(field string, objs ...json.RawMessage) ([]byte, []*poisonError) {
	var (
		out     = map[string]any{}
		dropped []*poisonError
	)
	for _, o := range objs {
		o = bytes.TrimSpace(o)
		if len(o) == 0 || isNull(o) {
			continue
		}
		m, err := decodeObject(o)
		if err != nil {
			dropped = append(dropped, dropUpdate(
				"%s is %s, not a JSON object; the event is stored without this update (send %s as an object, e.g. {\"plan\": \"pro\"})", field, event.JSONKind(o), field))
			continue
		}
		for k, v := range m {
			out[cleanNUL(k)] = cleanValue(v)
		}
	}
	if len(out) == 0 {
		return nil, dropped
	}
	b, err := json.Marshal(out)
	if err != nil { // cannot happen: only decoded JSON values
		return nil, append(dropped, dropUpdate("re-encode %s: %v", field, err))
	}
	return b, dropped
}

// decodeObject decodes a JSON object keeping numbers as written.
func decodeObject(b []byte) (map[string]any, error) {
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	return m, nil
}

// cleanValue replaces NUL in every string and key of v, a decoded JSON value.
func cleanValue(v any) any {
	switch v := v.(type) {
	case string:
		return cleanNUL(v)
	case []any:
		for i := range v {
			v[i] = cleanValue(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[cleanNUL(k)] = cleanValue(e)
		}
		return out
	}
	return v
}

// cleanNUL replaces NUL, which PostgreSQL text and jsonb refuse, with U+FFFD.
func cleanNUL(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }

// cleanID is what capture makes of a distinct_id, for the ids the worker reads from
// properties: trimmed, NUL replaced, cut to maxIDChars characters.
func cleanID(s string) string {
	s = cleanNUL(strings.TrimSpace(s))
	n := 0
	for i := range s {
		if n == maxIDChars {
			return s[:i]
		}
		n++
	}
	return s
}

func isNull(b json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(b), []byte("null")) }

// jsonString reads a JSON string, or stringifies a JSON number; "" otherwise.
func jsonString(b json.RawMessage) string {
	if len(b) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		return n.String()
	}
	return ""
}

// jsonNumber reads a JSON number or a numeric string.
func jsonNumber(b json.RawMessage) (float64, bool) {
	s := jsonString(b)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// timeLayouts are the timestamp forms clients send.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"}

func parseTimeOK(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func parseTime(s string, fallback time.Time) time.Time {
	if t, ok := parseTimeOK(s); ok {
		return t
	}
	return fallback
}
