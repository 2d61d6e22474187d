package worker

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/reference/event"
)

func message(t *testing.T, m event.Message) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseMessageTimestamps(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name, data, sentAt string
		want               time.Time
	}{
		{"sent_at skew corrected", `{"event":"e","timestamp":"2026-03-01T11:00:00Z"}`, "2026-03-01T11:00:10Z", now.Add(-10 * time.Second)},
		{"timestamp only", `{"event":"e","timestamp":"2026-02-01T00:00:00.500Z"}`, "", time.Date(2026, 2, 1, 0, 0, 0, 5e8, time.UTC)},
		{"offset ms", `{"event":"e","offset":1500}`, "", now.Add(-1500 * time.Millisecond)},
		{"neither", `{"event":"e"}`, "", now},
		{"garbage timestamp", `{"event":"e","timestamp":"yesterday"}`, "", now},
		{"before 1970", `{"event":"e","timestamp":"1960-01-01T00:00:00Z"}`, "", now},
		{"ignore sent_at", `{"event":"e","timestamp":"2026-03-01T11:00:00Z","properties":{"$ignore_sent_at":true}}`, "2026-03-01T11:00:10Z", time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := message(t, event.Message{UUID: "0190d6c6-0000-7000-8000-000000000001", DistinctID: "d", Token: "tok",
				Data: c.data, Now: event.FormatNow(now), SentAt: c.sentAt})
			p, err := parseMessage(b, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !p.timestamp.Equal(c.want) {
				t.Fatalf("timestamp = %s, want %s", p.timestamp, c.want)
			}
		})
	}
}

func TestParseMessagePersonFields(t *testing.T) {
	b := message(t, event.Message{UUID: "0190d6c6-0000-7000-8000-000000000002", DistinctID: "user", Token: "tok", IP: "10.0.0.1",
		Now:  event.FormatNow(time.Now()),
		Data: `{"event":"$identify","$set":{"a":1},"properties":{"$anon_distinct_id":"anon","$set":{"a":2,"b":3},"$set_once":{"c":4}}}`})
	p, err := parseMessage(b, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !p.identify || p.mergeWith != "anon" {
		t.Fatalf("identify=%v mergeWith=%q, want true, anon", p.identify, p.mergeWith)
	}
	var set, once, props map[string]any
	for dst, src := range map[*map[string]any][]byte{&set: p.set, &once: p.setOnce, &props: p.properties} {
		if err := json.Unmarshal(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	if set["a"] != 1.0 || set["b"] != 3.0 || once["c"] != 4.0 {
		t.Fatalf("set=%v set_once=%v: top-level $set must win over properties.$set", set, once)
	}
	if props["$ip"] != "10.0.0.1" {
		t.Fatalf("properties.$ip = %v, want the message ip", props["$ip"])
	}
	alias := message(t, event.Message{UUID: "0190d6c6-0000-7000-8000-000000000003", DistinctID: "user", Token: "tok",
		Data: `{"event":"$create_alias","properties":{"alias":"other"}}`})
	if p, err = parseMessage(alias, time.Now()); err != nil || p.mergeWith != "other" || p.identify {
		t.Fatalf("alias: mergeWith=%q identify=%v err=%v", p.mergeWith, p.identify, err)
	}
}

func TestParseMessagePoison(t *testing.T) {
	ok := event.Message{UUID: "0190d6c6-0000-7000-8000-000000000004", DistinctID: "d", Token: "tok", Data: `{"event":"e"}`}
	cases := map[string]struct {
		value  []byte
		reason string
	}{
		"not json":          {[]byte("\x00garbage"), reasonInvalidMessage},
		"missing uuid":      {message(t, event.Message{DistinctID: "d", Token: "t", Data: "{}"}), reasonInvalidMessage},
		"bad uuid":          {message(t, func() event.Message { m := ok; m.UUID = "nope"; return m }()), reasonInvalidUUID},
		"data not object":   {message(t, func() event.Message { m := ok; m.Data = "[1,2"; return m }()), reasonInvalidData},
		"no event":          {message(t, func() event.Message { m := ok; m.Data = `{"properties":{}}`; return m }()), reasonMissingEvent},
		"properties string": {message(t, func() event.Message { m := ok; m.Data = `{"event":"e","properties":"x"}`; return m }()), reasonInvalidProperties},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseMessage(c.value, time.Now())
			var pe *poisonError
			if !errors.As(err, &pe) || pe.reason != c.reason {
				t.Fatalf("err = %v, want poison %q", err, c.reason)
			}
		})
	}
}

// TestOddPersonUpdatesAreDroppedNotTheEvent checks that a $set, $set_once or
// $group_set that is not an object leaves the event stored with the update dropped,
// and that NUL becomes U+FFFD where PostgreSQL would refuse it.
func TestOddPersonUpdatesAreDroppedNotTheEvent(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	msg := func(data string) []byte {
		b, err := event.Message{UUID: "0190a0a0-0000-7000-8000-000000000001", DistinctID: "d", Token: "t", Data: data, Now: event.FormatNow(now)}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		data        string
		dropped     int
		set, anonID string
	}{
		{`{"event":"e","$set":"str","properties":{"$set_once":[1]}}`, 2, "", ""},
		{`{"event":"e","$set":{"a":1},"properties":{"$set":5}}`, 1, `{"a":1}`, ""},
		{`{"event":"e","sent_at":12,"properties":{"$set":{"k\u0000":"v\u0000"}}}`, 0, "{\"k\ufffd\":\"v\ufffd\"}", ""},
		{`{"event":"$identify","properties":{"$anon_distinct_id":"a\u0000b"}}`, 0, "", "a\ufffdb"},
		{`{"event":"$groupidentify","properties":{"$group_type":"c","$group_key":"k","$group_set":"x"}}`, 1, "", ""},
		{`{"event":"e","properties":{"$process_person_profile":false,"$set":"ignored"}}`, 0, "", ""},
	} {
		p, err := parseMessage(msg(tc.data), now)
		if err != nil {
			t.Errorf("%s: %v, want the event stored", tc.data, err)
			continue
		}
		if len(p.dropped) != tc.dropped || string(p.set) != tc.set || p.mergeWith != tc.anonID {
			t.Errorf("%s: dropped %d set %s mergeWith %q, want %d %s %q", tc.data, len(p.dropped), p.set, p.mergeWith, tc.dropped, tc.set, tc.anonID)
		}
	}
}

// TestParseReadsExactKeys: keys differing only in case are not the fields
// capture checked; they must neither replace nor spoil them.
func TestParseReadsExactKeys(t *testing.T) {
	data := `{"event":"x","distinct_id":"a","properties":{"k":1},"PROPERTIES":"s","EVENT":1,"Event":"","$SET":"no"}`
	msg := message(t, event.Message{UUID: "0190f8a0-0000-7000-8000-000000000001", DistinctID: "a", Token: "phc_t", Data: data, Now: "2026-01-01T00:00:00Z"})
	p, err := parseMessage(msg, time.Now())
	if err != nil {
		t.Fatalf("parseMessage: %v", err)
	}
	if p.name != "x" || !strings.Contains(string(p.properties), `"k":1`) || p.set != nil {
		t.Errorf("parsed name %q, properties %s, $set %s; want x, {k:1}, none", p.name, p.properties, p.set)
	}
}
