package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// TestPoisonMessagesGoToDeadLetterTopic interleaves an unknown token, garbage bytes and a
// bad uuid with good events: the good ones land in ClickHouse, the bad ones on the
// dead-letter topic with their reason and original bytes, and every offset is committed.
func TestPoisonMessagesGoToDeadLetterTopic(t *testing.T) {
	e := newEnv(t, 1)
	p := e.producer(t)
	unknown := e.msg(101, "d1", `{"event":"e"}`)
	unknown.Token = "phc_nobody"
	badUUID := e.msg(102, "d1", `{"event":"e"}`)
	badUUID.UUID = "not-a-uuid"
	enc := e.record
	garbage := &kgo.Record{Topic: e.topic, Value: []byte("\xff\xfe not json")}
	recs := []*kgo.Record{enc(e.msg(1, "d1", `{"event":"good"}`)), enc(unknown), garbage,
		enc(e.msg(2, "d1", `{"event":"good"}`)), enc(badUUID), enc(e.msg(3, "d2", `{"event":"good"}`))}
	e.produceRaw(t, p, recs...)

	e.runUntilCommitted(t, 3, len(recs))
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL WHERE event = 'good'"); n != 3 {
		t.Errorf("good events = %d, want 3", n)
	}
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL"); n != 3 {
		t.Errorf("events = %d, want only the 3 good ones", n)
	}

	got := e.readDeadLetters(t, 3)
	var reasons []string
	for _, r := range got {
		var dl DeadLetter
		if err := json.Unmarshal(r.Value, &dl); err != nil {
			t.Fatalf("dead letter value is not a DeadLetter: %v", err)
		}
		header := ""
		for _, h := range r.Headers {
			if h.Key == HeaderReason {
				header = string(h.Value)
			}
		}
		if header != dl.Reason {
			t.Errorf("reason header %q != envelope reason %q", header, dl.Reason)
		}
		if orig := recs[dl.Offset]; !bytes.Equal(dl.Value, orig.Value) || dl.Topic != e.topic {
			t.Errorf("dead letter for offset %d carries %q from %s, want the original %q", dl.Offset, dl.Value, dl.Topic, orig.Value)
		}
		if dl.Error == "" {
			t.Errorf("dead letter %s has no error detail", dl.Reason)
		}
		reasons = append(reasons, dl.Reason)
	}
	sort.Strings(reasons)
	if want := "invalid_message,invalid_uuid,unknown_token"; strings.Join(reasons, ",") != want {
		t.Errorf("reasons = %v, want %s", reasons, want)
	}
}

// readDeadLetters reads n records from the dead-letter topic.
func (e *env) readDeadLetters(t *testing.T, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.dlq),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d dead letters before timeout", len(out), n)
		}
		out = append(out, f.Records()...)
	}
	// Nothing more should arrive: each poison message is dead-lettered once here.
	sctx, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer scancel()
	out = append(out, cl.PollFetches(sctx).Records()...)
	if len(out) != n {
		t.Fatalf("dead letters = %d, want %d", len(out), n)
	}
	return out
}

// TestValuesPostgreSQLRefusesDoNotStallThePartition sends values PostgreSQL refuses
// for good: a NUL in a distinct_id (capture never sends one; the event is dead-lettered
// as invalid_value) and a $set number past numeric's range (the event is stored, the
// update dead-lettered as invalid_person_update). A NUL in $set is stored as U+FFFD.
// The events around them still land.
func TestValuesPostgreSQLRefusesDoNotStallThePartition(t *testing.T) {
	e := newEnv(t, 1)
	p := e.producer(t)
	nulID := e.msg(201, "nul\x00id", `{"event":"bad"}`)
	nulSet := e.msg(202, "d9", `{"event":"nulset","properties":{"$set":{"name":"a\u0000b"}}}`)
	overflow := e.msg(203, "d10", `{"event":"overflow","properties":{"$set":{"n":1e1000000}}}`)
	enc := e.record
	recs := []*kgo.Record{enc(e.msg(11, "d7", `{"event":"good"}`)), enc(nulID),
		enc(e.msg(12, "d8", `{"event":"good"}`)), enc(nulSet), enc(overflow), enc(e.msg(13, "d8", `{"event":"good"}`))}
	e.produceRaw(t, p, recs...)

	e.runUntilCommitted(t, 5, len(recs))
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL WHERE event IN ('good', 'nulset', 'overflow')"); n != 5 {
		t.Errorf("stored events = %d, want 5", n)
	}
	var name string
	if err := e.pg.QueryRow(context.Background(), "SELECT p.properties->>'name' FROM persons p JOIN person_distinct_ids d ON d.person_id = p.id WHERE d.distinct_id = 'd9'").Scan(&name); err != nil || name != "a\ufffdb" {
		t.Errorf("d9's name = %q (%v), want a\ufffdb", name, err)
	}
	reasons := map[string]bool{}
	for _, r := range e.readDeadLetters(t, 2) {
		var dl DeadLetter
		if err := json.Unmarshal(r.Value, &dl); err != nil {
			t.Fatal(err)
		}
		reasons[dl.Reason] = true
		if !strings.Contains(dl.Error, "22") {
			t.Errorf("dead letter reason %q error %q, want the SQLSTATE", dl.Reason, dl.Error)
		}
	}
	if !reasons[reasonInvalidValue] || !reasons[reasonInvalidPersonUpdate] {
		t.Errorf("dead letter reasons %v, want %s and %s", reasons, reasonInvalidValue, reasonInvalidPersonUpdate)
	}
}

func TestDeadLetterEnvelopeIsBounded(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 900<<10)
	r := deadLetterRecord("dlq", &kgo.Record{Topic: "t", Value: big}, "r", strings.Repeat("e", 10_000), time.Unix(0, 0))
	if len(r.Value) > 400<<10 {
		t.Fatalf("dead letter of a 900 KB message is %d bytes; it must stay well under Kafka's 1 MB limit", len(r.Value))
	}
	var dl DeadLetter
	if err := json.Unmarshal(r.Value, &dl); err != nil {
		t.Fatal(err)
	}
	if !dl.Truncated || dl.ValueSize != len(big) || len(dl.ValueSHA256) != 64 || len(dl.Value) != MaxDeadLetterValue {
		t.Fatalf("envelope does not describe the cut: truncated=%v size=%d sha=%q kept=%d", dl.Truncated, dl.ValueSize, dl.ValueSHA256, len(dl.Value))
	}
}

// record encodes m as a record of e's topic.
func (e *env) record(m event.Message) *kgo.Record {
	v, _ := m.Encode()
	return &kgo.Record{Topic: e.topic, Key: m.Key(), Value: v}
}

// runUntilCommitted runs a worker until rows events are in ClickHouse and all records
// offsets are committed, then stops it gracefully.
func (e *env) runUntilCommitted(t *testing.T, rows uint64, records int) {
	t.Helper()
	cfg := e.config()
	stop := runWorker(t, cfg)
	e.waitRows(t, rows, time.Minute)
	waitFor(t, 30*time.Second, "all offsets committed", func() (bool, string) {
		n := e.committed(t, cfg.Group)
		return n == int64(records), "committed " + itoa(n)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
