package worker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header names set on dead-letter records.
const (
	// HeaderReason carries the dead-letter reason, e.g. "unknown_token".
	HeaderReason = "reason"
	// HeaderError carries the detailed error text.
	HeaderError = "error"
)

// DeadLetter is the JSON value written to the dead-letter topic: why the message was
// refused and the original record, bytes unchanged (base64 in JSON).
type DeadLetter struct {
	// Reason is a short machine-readable cause, also the HeaderReason header.
	Reason string `json:"reason"`
	// Error is the detailed cause.
	Error string `json:"error"`
	// Topic, Partition and Offset locate the original record.
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Key and Value are the original record's bytes; Value is cut to MaxDeadLetterValue
	// bytes (ValueSize and ValueSHA256 describe the whole original).
	Key         []byte `json:"key,omitempty"`
	Value       []byte `json:"value"`
	ValueSize   int    `json:"value_size"`
	ValueSHA256 string `json:"value_sha256"`
	Truncated   bool   `json:"truncated,omitempty"`
	// FailedAt is when the worker refused the message.
	FailedAt time.Time `json:"failed_at"`
}

// MaxDeadLetterValue bounds the original bytes kept in a dead letter, so the envelope
// (base64 grows it by a third) stays well under Kafka's default 1 MB record limit.
const MaxDeadLetterValue = 256 << 10

// deadLetterRecord builds the record that reports rec as refused for reason.
func deadLetterRecord(topic string, rec *kgo.Record, reason, detail string, now time.Time) *kgo.Record {
	sum := sha256.Sum256(rec.Value)
	env := DeadLetter{
		Reason: reason, Error: detail,
		Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Key: rec.Key, Value: rec.Value, ValueSize: len(rec.Value), ValueSHA256: hex.EncodeToString(sum[:]),
		FailedAt: now.UTC(),
	}
	if len(env.Value) > MaxDeadLetterValue {
		env.Value, env.Truncated = env.Value[:MaxDeadLetterValue], true
	}
	if len(detail) > 4096 {
		detail = detail[:4096]
		env.Error = detail
	}
	value, _ := json.Marshal(env) // only strings, ints, bytes and a time: cannot fail
	return &kgo.Record{
		Topic: topic,
		Key:   rec.Key,
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderError, Value: []byte(detail)},
			{Key: "original_topic", Value: []byte(rec.Topic)},
			{Key: "original_partition", Value: []byte(strconv.Itoa(int(rec.Partition)))},
			{Key: "original_offset", Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		},
	}
}
