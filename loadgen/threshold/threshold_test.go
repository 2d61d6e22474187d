package threshold

import (
	"net/http"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// fixture records n results: latencies i ms (1..n), every tenth one a 500, sent
// at 100/s on schedule, plus e2e samples of 1..n*10 ms.
func fixture(n int) *record.Recorder {
	start := time.Unix(1_700_000_000, 0)
	p := vegeta.ConstantPacer{Freq: 100, Per: time.Second}
	r := record.New(record.Options{Start: start, Schedule: record.NewSchedule(p)})
	sched := record.NewSchedule(p)
	for i := 0; i < n; i++ {
		code := uint16(http.StatusOK)
		if i%10 == 9 {
			code = http.StatusInternalServerError
		}
		r.Add(&vegeta.Result{Seq: uint64(i), Code: code, Timestamp: start.Add(sched.Offset(uint64(i))), Latency: time.Duration(i+1) * time.Millisecond})
		r.AddE2E(time.Duration(i+1) * 10 * time.Millisecond)
	}
	r.Finish(start.Add(time.Duration(n) * 10 * time.Millisecond))
	return r
}

func TestThresholdsPassAndFail(t *testing.T) {
	src := fixture(1000) // p95 ≈ 950ms, errors 10%, rate 100/s, e2e p95 ≈ 9.5s
	for _, tc := range []struct {
		rule string
		pass bool
	}{
		{"p(95)<300ms", false},
		{"p(95)<1s", true},
		{"p(99)<=1s", true},
		{"p(99) <= 980ms", false},
		{"raw_p(50)<501ms", true},
		{"med>600ms", false},
		{"max<=1001ms", true},
		{"avg<400ms", false},
		{"errors<1%", false},
		{"errors<=10%", true},
		{"errors<0.11", true},
		{"rate>=0.98*target", true},
		{"rate>=1.5*target", false},
		{"rate>90", true},
		{"rate>200/s", false},
		{"throughput>=80", true},
		{"late<1%", true},
		{"e2e_p(95)<2s", false},
		{"e2e_p(95)<10s", true},
		{"e2e_lost<1%", true},
	} {
		th, err := Parse(tc.rule)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.rule, err)
			continue
		}
		if got := th.Check(src); got.Pass != tc.pass {
			t.Errorf("%q: pass=%v (actual %s, want %s %s), expected pass=%v", tc.rule, got.Pass, got.Actual, th.Op, got.Want, tc.pass)
		}
	}
}

func TestNoSamplesFails(t *testing.T) {
	r := record.New(record.Options{})
	th, _ := Parse("e2e_p(95)<2s")
	if res := th.Check(r); res.Pass || !strings.Contains(res.Note, "no e2e samples") {
		t.Errorf("e2e threshold on no samples: %+v", res)
	}
}

func TestParseErrorsSayWhatToWrite(t *testing.T) {
	for rule, want := range map[string]string{
		"p(95)<abc":         `threshold "p(95)<abc": duration "abc" not understood; use e.g. 300ms`,
		"p(95)":             "no comparison",
		"p(x)<1s":           `percentile "x" not understood`,
		"p(101)<1s":         "percentile",
		"errors<lots":       `share "lots" not understood; use e.g. 1% or 0.01`,
		"rate>=fast*target": `factor "fast" not understood`,
		"rate>=fast":        "requests per second",
		"latency<1s":        `metric "latency" not understood`,
		"p(95)<":            "no value",
		"p(95)=<1s":         "operator",
	} {
		_, err := Parse(rule)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", rule, err, want)
		}
	}
	if _, err := ParseAll([]string{"p(95)<1s", "bad", "errors<2"}); err == nil || strings.Count(err.Error(), "threshold") != 2 {
		t.Errorf("ParseAll should report both bad rules: %v", err)
	}
}

func TestCheckAll(t *testing.T) {
	ts, err := ParseAll([]string{"p(95)<1s", "errors<1%"})
	if err != nil {
		t.Fatal(err)
	}
	res, passed := CheckAll(ts, fixture(100))
	if passed || len(res) != 2 || !res[0].Pass || res[1].Pass {
		t.Errorf("CheckAll = %+v, %v", res, passed)
	}
}

// A share is 0..1 whether written as a fraction or a percentage: errors<150% could
// never fail, so it is refused like errors<1.5.
func TestSharesOutOfRangeAreRefused(t *testing.T) {
	for _, rule := range []string{"errors<150%", "errors<-5%", "late<=100.5%", "e2e_lost<NaN%", "errors<1.5", "errors<-0.1"} {
		_, err := Parse(rule)
		if err == nil || !strings.Contains(err.Error(), "out of range") || !strings.Contains(err.Error(), "0%..100%") {
			t.Errorf("Parse(%q) = %v, want an out-of-range error naming 0%%..100%%", rule, err)
		}
	}
	for rule, want := range map[string]float64{"errors<100%": 1, "errors<0%": 0, "errors< 2.5 %": 0.025, "errors<1": 1, "errors<0": 0} {
		th, err := Parse(rule)
		if err != nil || th.Value != want {
			t.Errorf("Parse(%q) = %v, %v; want value %v", rule, th.Value, err, want)
		}
	}
}
