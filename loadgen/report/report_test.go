package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
)

func sample(t *testing.T) *Report {
	start := time.Unix(1_700_000_000, 0)
	p := vegeta.ConstantPacer{Freq: 50, Per: time.Second}
	rec := record.New(record.Options{Start: start, Schedule: record.NewSchedule(p)})
	sched := record.NewSchedule(p)
	for i := 0; i < 150; i++ {
		code := uint16(200)
		if i == 7 {
			code = 503
		}
		rec.Add(&vegeta.Result{Seq: uint64(i), Code: code, Timestamp: start.Add(sched.Offset(uint64(i))), Latency: time.Duration(1+i%20) * time.Millisecond})
		rec.AddE2E(time.Duration(100+i) * time.Millisecond)
	}
	rec.Finish(start.Add(3 * time.Second))
	ts, err := threshold.ParseAll([]string{"p(95)<300ms", "errors<0.1%"})
	if err != nil {
		t.Fatal(err)
	}
	return New("load <test> | x", Config{Target: "http://127.0.0.1:1", Pacer: "constant 50/s", Rate: 50, Duration: 3 * time.Second, Seed: 9}, rec, ts)
}

func TestEncoders(t *testing.T) {
	r := sample(t)
	if r.Passed {
		t.Fatal("errors<0.1% should fail with 1 error in 150")
	}
	for _, name := range Formats() {
		enc, _, err := ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := enc(&buf, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := buf.String()
		switch name {
		case "text":
			for _, want := range []string{"150 sent of 150 scheduled", "✓ p(95)<300ms", "✗ errors<0.1%", "from intended send"} {
				if !strings.Contains(out, want) {
					t.Errorf("text report lacks %q:\n%s", want, out)
				}
			}
		case "md":
			for _, want := range []string{"## ❌ load &lt;test&gt; \\| x", "| ✓ | `p(95)<300ms` |", "| ✗ | `errors<0.1%` |", "|---|"} {
				if !strings.Contains(out, want) {
					t.Errorf("markdown report lacks %q:\n%s", want, out)
				}
			}
		case "json":
			var back Report
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Summary.Requests != 150 || len(back.Thresholds) != 2 {
				t.Errorf("JSON report does not round-trip: %v %+v", err, back.Summary)
			}
		case "html":
			for _, bad := range []string{"<script", "src=", "href=\"http", "@import"} {
				if strings.Contains(out, bad) {
					t.Errorf("HTML report contains %q: must render offline", bad)
				}
			}
			if strings.Count(out, "<svg") != 2 || strings.Count(out, "<polyline") < 5 || !strings.Contains(out, "load &lt;test&gt;") {
				t.Errorf("HTML report lacks its plots or escapes: %d svgs, %d lines", strings.Count(out, "<svg"), strings.Count(out, "<polyline"))
			}
		}
	}
	if _, _, err := ByName("pdf"); err == nil {
		t.Error("ByName(pdf) should fail")
	}
}
