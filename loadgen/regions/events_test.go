package regions

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/internal/phclient"
)

// Every encoding phclient sends comes back with the target's own uuids, in the same
// encoding, and decodes to the same JSON otherwise.
func TestRegionsReencodeGivesEachTargetItsOwnUUIDs(t *testing.T) {
	events := []phclient.Event{
		{UUID: "0189f7e4-8d3b-4a6c-9b1e-1c2d3e4f5a6b", Event: "$pageview", DistinctID: "u1"},
		{UUID: "0189f7e4-8d3b-4a6c-9b1e-1c2d3e4f5a6c", Event: "$autocapture", DistinctID: "u1"},
	}
	body, err := phclient.BatchBody("phc_test", events, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	euKey, usKey := targetKey("eu"), targetKey("us")
	for _, enc := range phclient.Encodings {
		req, err := phclient.NewRequest(context.Background(), "http://stream.invalid", "/batch/", body, enc)
		if err != nil {
			t.Fatal(err)
		}
		tgt := vegeta.Target{Method: req.Method, URL: req.URL.String(), Header: req.Header}
		if req.Body != nil {
			tgt.Body, _ = io.ReadAll(req.Body)
		}
		d, ok, err := decodeEvents(tgt)
		if err != nil || !ok || string(d.json) != string(body) {
			t.Fatalf("%s: decode = %q, %v, %v; want the batch JSON", enc, d.json, ok, err)
		}
		eu, euUUIDs, err := d.reencode(tgt, euKey)
		if err != nil {
			t.Fatal(err)
		}
		us, usUUIDs, _ := d.reencode(tgt, usKey)
		if len(euUUIDs) != 2 || euUUIDs[0] == events[0].UUID || euUUIDs[0] == usUUIDs[0] || euUUIDs[0] == euUUIDs[1] {
			t.Errorf("%s: eu uuids %v, us uuids %v: want two new uuids per target, distinct across targets", enc, euUUIDs, usUUIDs)
		}
		if uuidFor(euKey, euUUIDs[0]) != events[0].UUID || euUUIDs[0][14] != '4' {
			t.Errorf("%s: %s is not a v4 uuid mapped back by the same key", enc, euUUIDs[0])
		}
		back, ok, err := decodeEvents(eu)
		if err != nil || !ok {
			t.Fatalf("%s: the re-encoded request does not decode: %v", enc, err)
		}
		want := strings.ReplaceAll(strings.ReplaceAll(string(body), events[0].UUID, euUUIDs[0]), events[1].UUID, euUUIDs[1])
		if string(back.json) != want || back.wire != d.wire || eu.Method != tgt.Method {
			t.Errorf("%s: re-encoded JSON %q (wire %d, %s), want %q (wire %d, %s)", enc, back.json, back.wire, eu.Method, want, d.wire, tgt.Method)
		}
		if us.URL != tgt.URL && enc != phclient.GetData {
			t.Errorf("%s: URL changed to %s", enc, us.URL)
		}
	}
	decide := vegeta.Target{Method: "POST", URL: "http://stream.invalid/decide/?v=3", Body: []byte(`{"token":"phc_test","distinct_id":"u1"}`)}
	if _, ok, err := decodeEvents(decide); ok || err != nil {
		t.Errorf("a /decide request: has events %v, err %v; want none and no error", ok, err)
	}
}

// Run with TrackEvents sends each target its own uuids and records which it
// acknowledged.
func TestRegionsRunTracksEventsPerTarget(t *testing.T) {
	ok, down := newRecordingServer(t, 0), newRecordingServer(t, 0)
	down.Close()
	k := 0
	stream := func(tgt *vegeta.Target) error {
		body, err := phclient.EventBody("phc_test", phclient.Event{UUID: fmt.Sprintf("0189f7e4-8d3b-4a6c-9b1e-%012d", k), Event: "e", DistinctID: "u"})
		k++
		if err != nil {
			return err
		}
		*tgt = vegeta.Target{Method: "POST", URL: "http://stream.invalid/e/", Body: body}
		return nil
	}
	res, err := Run(context.Background(), Options{
		Targets: []Target{{"ok", ok.URL}, {"down", down.URL}}, Stream: stream,
		Rate: 200, Rounds: 10, Warmup: 2, TrackEvents: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := res.Targets[0].Events, res.Targets[1].Events
	if len(a.Acked) != 10 || len(a.Unacked) != 0 || len(b.Acked) != 0 || len(b.Unacked) != 10 {
		t.Fatalf("ok: %d acked %d not; down: %d acked %d not; want 10/0 and 0/10 (warm-up included)", len(a.Acked), len(a.Unacked), len(b.Acked), len(b.Unacked))
	}
	for _, u := range a.Acked {
		if slices.Contains(b.Unacked, u) {
			t.Fatalf("uuid %s sent to both targets", u)
		}
	}
	seen := strings.Join(ok.seen(), "\n")
	for _, u := range a.Acked {
		if !strings.Contains(seen, u) {
			t.Errorf("acked uuid %s never reached the target", u)
		}
	}
}
