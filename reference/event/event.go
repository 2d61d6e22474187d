// Package event holds the types shared by the capture API and the worker: the
// Kafka message capture produces and the topic names both sides agree on.
package event

import (
	"encoding/json"
	"time"
)

// Topic names used by the reference stack.
const (
	// IngestionTopic receives every accepted event, keyed "token:distinct_id".
	IngestionTopic = "events_plugin_ingestion"
	// DeadLetterTopic receives messages the worker could not parse, with the reason.
	DeadLetterTopic = "events_dead_letter"
)

// Message is the value capture writes to IngestionTopic for one event. It keeps
// PostHog's field names so tools that read PostHog's topic can read ours.
type Message struct {
	// UUID identifies the event; the client's uuid when it sent one, else one capture made.
	UUID string `json:"uuid"`
	// DistinctID is the stringified distinct_id, cut to 200 characters.
	DistinctID string `json:"distinct_id"`
	// IP is the client address as capture saw it (X-Forwarded-For first).
	IP string `json:"ip"`
	// Data is the event as the client sent it, JSON-encoded into a string.
	Data string `json:"data"`
	// Now is when capture received the request (RFC 3339, UTC, millisecond precision).
	Now string `json:"now"`
	// SentAt is the client's sent_at, if any.
	SentAt string `json:"sent_at,omitempty"`
	// Token is the project API token the event was sent with.
	Token string `json:"token"`
}

// Key returns the Kafka record key for m: "token:distinct_id".
func (m Message) Key() []byte { return []byte(m.Token + ":" + m.DistinctID) }

// Encode marshals m to JSON.
func (m Message) Encode() ([]byte, error) { return json.Marshal(m) }

// Decode parses a Message and checks the fields the worker cannot do without.
func Decode(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, &DecodeError{Reason: "invalid JSON: " + err.Error()}
	}
	switch {
	case m.UUID == "":
		return Message{}, &DecodeError{Reason: "missing uuid"}
	case m.Token == "":
		return Message{}, &DecodeError{Reason: "missing token"}
	case m.DistinctID == "":
		return Message{}, &DecodeError{Reason: "missing distinct_id"}
	case m.Data == "":
		return Message{}, &DecodeError{Reason: "missing data"}
	}
	return m, nil
}

// DecodeError says why a message cannot be processed; such messages go to DeadLetterTopic.
type DecodeError struct{ Reason string }

func (e *DecodeError) Error() string { return "undecodable event message: " + e.Reason }

// TimeFormat is the layout of Message.Now.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatNow renders t as Message.Now expects.
func FormatNow(t time.Time) string { return t.UTC().Format(TimeFormat) }
