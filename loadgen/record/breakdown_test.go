package record

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// classifyForTest stands in for traffic.Classify: the kind from the path, the
// encoding from the compression parameter.
func classifyForTest(method, raw string) (string, string) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	kind := strings.Trim(u.Path, "/")
	enc := u.Query().Get("compression")
	if enc == "" {
		enc = "json"
	}
	return kind, enc
}

// mixed records 100 results over 2 s from start: kind e or batch alternately,
// encoding gzip-js for every third, and every tenth a 503 (every twentieth a
// transport error instead).
func mixed(start time.Time, classify func(string, string) (string, string)) *Recorder {
	r := New(Options{Start: start, Classify: classify})
	for i := 0; i < 100; i++ {
		path := "/e/"
		if i%2 == 1 {
			path = "/batch/"
		}
		q := "?_=" + time.Duration(i).String()
		if i%3 == 0 {
			q += "&compression=gzip-js"
		}
		res := &vegeta.Result{Seq: uint64(i), Code: 200, Method: "POST", URL: "http://h" + path + q,
			Timestamp: start.Add(time.Duration(i) * 20 * time.Millisecond), Latency: time.Duration(1+i%2*9) * time.Millisecond,
			BytesOut: 100 + uint64(i%2)*900, BytesIn: 10}
		switch {
		case i%20 == 0:
			res.Code, res.Error = 0, `Post "http://h`+path+q+`": EOF`
		case i%10 == 0:
			res.Code = 503
		}
		r.Add(res)
	}
	r.Finish(start.Add(2 * time.Second))
	return r
}

func TestBreakdownCountsByKindAndEncoding(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	r := mixed(start, classifyForTest)
	// i even: e (50, of which i%10==0: 10 errors); i odd: batch (50, no errors).
	// i%3==0: gzip-js (34: 0,3,...,99), of which errors at 0,30,60,90; json (66), errors 10,20,40,50,70,80.
	byKind := r.Breakdown(ByKind)
	if len(byKind) != 2 || byKind[0].Kind != "batch" || byKind[1].Kind != "e" {
		t.Fatalf("by kind: %+v", byKind)
	}
	b, e := byKind[0], byKind[1]
	if b.Requests != 50 || b.Errors != 0 || b.BytesOut != 50_000 || b.Encoding != "" {
		t.Errorf("batch: %+v", b)
	}
	if e.Requests != 50 || e.Errors != 10 || e.ErrorRate != 0.2 || e.BytesOut != 5_000 || e.BytesIn != 500 {
		t.Errorf("e: %+v", e)
	}
	if b.Latency.P50.Round(time.Millisecond) != 10*time.Millisecond || e.Latency.P99 != time.Millisecond || e.Intended.P50 != time.Millisecond {
		t.Errorf("latencies: batch %+v, e %+v", b.Latency, e.Latency)
	}
	byEnc := r.Breakdown(ByEncoding)
	if len(byEnc) != 2 || byEnc[0].Encoding != "gzip-js" || byEnc[0].Requests != 34 || byEnc[0].Errors != 4 ||
		byEnc[1].Encoding != "json" || byEnc[1].Requests != 66 || byEnc[1].Errors != 6 || byEnc[0].Kind != "" {
		t.Errorf("by encoding: %+v", byEnc)
	}
	pairs := r.Breakdown(ByKindAndEncoding)
	var total uint64
	for _, p := range pairs {
		total += p.Requests
	}
	if len(pairs) != 4 || total != 100 || pairs[0].Kind != "batch" || pairs[0].Encoding != "gzip-js" || pairs[0].Requests != 17 {
		t.Errorf("by kind and encoding: %+v", pairs)
	}
	if got := mixed(start, nil).Breakdown(ByKind); len(got) != 0 {
		t.Errorf("without Classify there is no breakdown, got %+v", got)
	}
}

func TestSecondsHoldCodesErrorKindsBytesAndE2E(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	r := mixed(start, classifyForTest)
	r.AddE2EAt(start.Add(100*time.Millisecond), 300*time.Millisecond)
	r.AddE2EAt(start.Add(1500*time.Millisecond), 700*time.Millisecond)
	tl := r.Timeline()
	if len(tl) != 2 {
		t.Fatalf("timeline: %d seconds", len(tl))
	}
	// Second 0 holds i 0..49: 503 at 10, 30; EOF at 0, 20, 40 (kind POST /e/: EOF).
	s0 := tl[0]
	if s0.Codes[200] != 45 || s0.Codes[503] != 2 || s0.Codes[0] != 3 || s0.ErrorKinds["status 503"] != 2 || s0.ErrorKinds["POST /e/: EOF"] != 3 {
		t.Errorf("second 0 codes %v errors %v", s0.Codes, s0.ErrorKinds)
	}
	if s0.BytesOut != 25*100+25*1000 || s0.BytesIn != 500 {
		t.Errorf("second 0 bytes out %d in %d", s0.BytesOut, s0.BytesIn)
	}
	if s0.E2E.Count != 1 || s0.E2E.P50 < 299*time.Millisecond || tl[1].E2E.Count != 1 || tl[1].E2E.P50 < 690*time.Millisecond {
		t.Errorf("e2e by second: %+v / %+v", s0.E2E, tl[1].E2E)
	}
	if s := r.Summary(); s.E2E.Count != 2 {
		t.Errorf("AddE2EAt must count in the whole-run e2e too: %+v", s.E2E)
	}
}

func TestFinishPlansEverySecondOfTheWindow(t *testing.T) {
	// Start half-way into a second: 10/s for 3 s plans hits at 0.6, 0.7, ... 3.5.
	start := time.Unix(1_700_000_000, 500_000_000)
	r := New(Options{Start: start, Schedule: NewSchedule(vegeta.ConstantPacer{Freq: 10, Per: time.Second})})
	r.Add(&vegeta.Result{Seq: 0, Code: 200, Timestamp: start.Add(100 * time.Millisecond), Latency: time.Millisecond})
	r.Finish(start.Add(3 * time.Second))
	tl := r.Timeline()
	var got []uint64
	var sum uint64
	for _, s := range tl {
		got = append(got, s.Scheduled)
		sum += s.Scheduled
	}
	// Seconds 0 (0.6..0.9: 4 hits), 1 and 2 (10 each), 3 (3.0..3.5: 6 hits): the
	// seconds without a result are in the timeline too.
	if len(tl) != 4 || sum != 30 || got[0] != 4 || got[1] != 10 || got[3] != 6 {
		t.Errorf("scheduled by second %v (sum %d)", got, sum)
	}
	if tl[0].Requests != 1 || tl[1].Requests != 0 {
		t.Errorf("requests by second: %d %d", tl[0].Requests, tl[1].Requests)
	}
}

func TestBreakdownsAndDetailsMergeAndSerialize(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	a := mixed(start, classifyForTest)
	a.AddE2EAt(start.Add(100*time.Millisecond), 300*time.Millisecond)
	b := mixed(start.Add(time.Second), classifyForTest)
	total := New(Options{})
	for _, w := range []*Recorder{a, b} {
		line, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(line)
		if err != nil {
			t.Fatal(err)
		}
		if err := total.Merge(back); err != nil {
			t.Fatal(err)
		}
	}
	byKind := total.Breakdown(ByKind)
	if len(byKind) != 2 || byKind[1].Kind != "e" || byKind[1].Requests != 100 || byKind[1].Errors != 20 || byKind[0].BytesOut != 100_000 ||
		byKind[0].Latency.Count != 100 || byKind[0].Intended.P50.Round(time.Millisecond) != 10*time.Millisecond {
		t.Errorf("merged by kind: %+v", byKind)
	}
	if byEnc := total.Breakdown(ByEncoding); len(byEnc) != 2 || byEnc[0].Requests != 68 || byEnc[0].Errors != 8 {
		t.Errorf("merged by encoding: %+v", byEnc)
	}
	tl := total.Timeline()
	// a covers seconds 0-1, b seconds 1-2: second 1 holds a's second half (503 at
	// 50, 70, 90; EOF at 60, 80) and b's first (503 at 10, 30; EOF at 0, 20, 40).
	if len(tl) != 3 || tl[1].Requests != 100 || tl[1].Codes[503] != 3+2 || tl[1].ErrorKinds["status 503"] != 5 ||
		tl[1].ErrorKinds["POST /e/: EOF"] != 2+3 || tl[1].BytesOut != 2*27_500 || tl[0].E2E.Count != 1 {
		t.Errorf("merged second 1: %+v; second 0 e2e %+v", tl[1], tl[0].E2E)
	}
	// The same, a period of 3 s.
	if p := total.TimelineBy(3); len(p) != 1 || p[0].Requests != 200 || p[0].Codes[200] != 180 || p[0].BytesIn != 2000 || p[0].E2E.Count != 1 {
		t.Errorf("TimelineBy(3): %+v", p)
	}
}

// A recorder serialized before breakdowns existed (no groups, no per-second
// details) still reads back and merges.
func TestDecodeWithoutDetails(t *testing.T) {
	line, err := json.Marshal(mixed(time.Unix(1_700_000_000, 0), classifyForTest))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["groups"]; !ok {
		t.Fatal("the JSON form lacks the breakdown")
	}
	delete(m, "groups")
	for _, s := range m["seconds"].([]any) {
		for _, k := range []string{"codes", "error_kinds", "bytes_in", "bytes_out", "scheduled", "e2e"} {
			delete(s.(map[string]any), k)
		}
	}
	old, _ := json.Marshal(m)
	r, err := Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Summary(); s.Requests != 100 || len(r.Breakdown(ByKind)) != 0 || r.Timeline()[0].Requests != 50 {
		t.Errorf("old form read back as %+v", s)
	}
}

func TestHistogramBuckets(t *testing.T) {
	r := mixed(time.Unix(1_700_000_000, 0), nil)
	h := r.Histogram()
	// 1 ms and 10 ms: buckets 30 (1 ms) to 40 (10 ms), 11 in all.
	if len(h) != 11 || h[0].Low != time.Millisecond || h[10].Low != 10*time.Millisecond || h[10].High <= h[10].Low {
		t.Fatalf("buckets: %+v", h)
	}
	if h[0].Latency != 50 || h[0].Intended != 50 || h[10].Latency != 50 || h[5].Latency != 0 {
		t.Errorf("bucket counts: %+v / %+v", h[0], h[10])
	}
	if got := New(Options{}).Histogram(); len(got) != 0 {
		t.Errorf("empty recorder: %+v", got)
	}
}
