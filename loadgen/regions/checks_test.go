package regions

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// roundsResult is a finished run of n rounds: eu answers in about 20 ms, us in about
// 80 ms, both drifting by the same amount in the second half, every round recorded.
func roundsResult(n int) Result {
	res := Result{Rate: 10, Rounds: n, Sent: n, Targets: []TargetResult{
		{Target: Target{"eu", "http://eu.test"}}, {Target: Target{"us", "http://us.test"}},
	}}
	eu, us := samplesFrom(11, n, 20*time.Millisecond, 3*time.Millisecond), samplesFrom(12, n, 80*time.Millisecond, 3*time.Millisecond)
	for r := range n {
		drift := time.Duration(0)
		if r >= n/2 {
			drift = 30 * time.Millisecond
		}
		for i, s := range []Samples{eu, us} {
			tr := &res.Targets[i]
			tr.Latency = append(tr.Latency, s[r]+drift)
			tr.Rounds = append(tr.Rounds, r)
		}
	}
	for i := range res.Targets {
		res.Targets[i].Intended = res.Targets[i].Latency
		res.Targets[i].Summary.Requests = uint64(n)
	}
	return res
}

// The tail note counts the observations above the quantile's lower order statistic:
// p90 of 50 rests on 5 (no note), p95 of 70 on 4 (n·(1−q) = 3.5 once said 3).
func TestRegionsTailNotesAreExact(t *testing.T) {
	for _, tc := range []struct {
		n       int
		q       float64
		note    string
		notNote string
	}{
		{50, 0.9, "", "p90 rests on"},
		{70, 0.95, "eu p95 rests on the 4 slowest of 70 requests: its interval is unreliable (run at least 82 requests for it)", ""},
		{300, 0.99, "eu p99 rests on the 3 slowest of 300 requests", "p95 rests"},
	} {
		rep, err := Analyze(roundsResult(tc.n), AnalyzeOptions{Quantiles: []float64{0.5, tc.q}, Seed: 1, Resamples: 1000})
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(rep.Notes, "\n")
		if tc.note != "" && !strings.Contains(notes, tc.note) {
			t.Errorf("n=%d q=%v: notes lack %q:\n%s", tc.n, tc.q, tc.note, notes)
		}
		if tc.notNote != "" && strings.Contains(notes, tc.notNote) {
			t.Errorf("n=%d q=%v: notes say %q, want no such note:\n%s", tc.n, tc.q, tc.notNote, notes)
		}
	}
}

// Rounds pair the samples: the paired bootstrap is used, the shared drift cancels, and
// the independent intervals are reported beside it.
func TestRegionsAnalyzePairsRounds(t *testing.T) {
	rep, err := Analyze(roundsResult(200), AnalyzeOptions{Seed: 2, Resamples: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := rep.Comparison("eu", "us", 0.5)
	if !ok || c.Method != Paired || c.Independent == nil {
		t.Fatalf("p50 comparison %+v: want a paired one with the independent beside it", c)
	}
	pw, iw := c.Diff.Hi-c.Diff.Lo, c.Independent.Diff.Hi-c.Independent.Diff.Lo
	if pw >= iw {
		t.Errorf("paired interval %s wide, independent %s: want the paired one narrower (the drift is shared)", pw, iw)
	}
	if !strings.HasPrefix(c.Verdict, "eu has ") || !strings.Contains(c.Verdict, "% lower latency than us at p50") || !strings.Contains(c.Verdict, "us has ") {
		t.Errorf("verdict %q: want \"eu has N%% lower latency than us ... us has X× the latency\"", c.Verdict)
	}
	if len(rep.Series) != 2 || rep.Series[0].Every != 2 || len(rep.Series[0].Points) != 100 {
		t.Fatalf("series %d targets, every %d, %d points: want 2, 2 rounds a point, 100 points", len(rep.Series), rep.Series[0].Every, len(rep.Series[0].Points))
	}
	first, last := rep.Series[1].Points[0], rep.Series[1].Points[99]
	if last.P50-first.P50 < 20*time.Millisecond || last.At != 19800*time.Millisecond {
		t.Errorf("us series from %+v to %+v: want the 30 ms drift visible and the last bucket at 19.8s", first, last)
	}
	var html bytes.Buffer
	if err := WriteHTML(&html, rep); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(html.String(), "<svg"); n != 2 || !strings.Contains(html.String(), "Latency over the run") {
		t.Errorf("HTML has %d plots, want 2 (by percentile, over the run)", n)
	}
	if strings.Contains(html.String(), `class="sig"`) && strings.Contains(html.String(), ".sig{color:#b00") {
		t.Error("HTML styles significant verdicts as failures")
	}
	var svg bytes.Buffer
	if err := WriteSeriesSVG(&svg, rep); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&svg)
	lines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("series plot is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 4 {
		t.Errorf("series plot has %d lines, want 4 (p50 and p95 of two targets)", lines)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "**≠**") || !strings.Contains(md.String(), "independent 95% CI") {
		t.Errorf("markdown: want neutral marks and both intervals:\n%s", md.String())
	}
}

func TestRegionsThresholds(t *testing.T) {
	rep := func(rules ...string) Report {
		t.Helper()
		ts, err := ParseThresholds(rules, []string{"eu", "us"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Analyze(roundsResult(300), AnalyzeOptions{Seed: 3, Resamples: 1000, Thresholds: ts})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		rule string
		pass bool
		sig  bool
		note string
	}{
		{"eu.p(95) < us.p(95)", true, true, "the difference is significant"},
		{"eu.p(95) >= us.p(95)", false, true, ""},
		{"eu.p(95)<0.8*us.p(95)", true, true, "which excludes 0.8"},
		{"eu.med < 1s", true, true, "95% CI of eu p50"},
		{"us.p(99.9) < 5ms", false, true, ""},
		{"eu.avg < us.avg", true, false, "different statistics"},
		{"eu.p(50) < us.p(99)", true, false, "different statistics"},
	} {
		r := rep(tc.rule)
		got := r.Thresholds[0]
		if got.Pass != tc.pass || (got.Significant != nil && *got.Significant) != tc.sig || !strings.Contains(got.Note, tc.note) {
			t.Errorf("%s: pass %v significant %v note %q actual %q; want pass %v significant %v note with %q",
				tc.rule, got.Pass, got.Significant, got.Note, got.Actual, tc.pass, tc.sig, tc.note)
		}
		if r.Passed != tc.pass || (len(r.Failures()) == 0) != tc.pass {
			t.Errorf("%s: report passed %v, failures %q", tc.rule, r.Passed, r.Failures())
		}
	}
	if r := rep("us.p(99.9) < 5ms"); len(r.Quantiles) != 5 || len(r.Targets[0].Quantiles) != 5 {
		t.Errorf("quantiles %v: want p99.9 added for the threshold", r.Quantiles)
	}
	for _, bad := range []struct{ rule, want string }{
		{"eu.p(95)", "no comparison"},
		{"eu.p(95) == us.p(95)", "== is never met"},
		{"eu.p(95) = us.p(95)", "operator not understood"},
		{"ap.p(95) < us.p(95)", `unknown target "ap"; the targets are eu, us`},
		{"eu.p(0) < 1s", `percentile "0"`},
		{"eu.p95 < 1s", `statistic "p95" of eu`},
		{"eu.p(95) < -2*us.p(95)", `factor "-2"`},
		{"1s < 2s", "two fixed durations"},
		{"eu.p(95) < us.p(95) < 1s", "more than one comparison"},
		{"eu.p(95) < 0s", "positive limit"},
	} {
		_, err := ParseThresholds([]string{bad.rule}, []string{"eu", "us"})
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseThresholds(%q) = %v, want an ErrInvalidOptions with %q", bad.rule, err, bad.want)
		}
	}
}

// A target whose every request failed fails the report by default; --max-errors
// sets a share instead.
func TestRegionsErrorChecks(t *testing.T) {
	res := roundsResult(50)
	res.Targets = append(res.Targets, TargetResult{Target: Target{"down", "http://down.test"},
		Summary: record.Summary{Requests: 50, Errors: 50, ErrorRate: 1, TopErrors: []record.ErrorCount{{Error: "connection refused", Count: 50}}}})
	res.Targets[0].Summary.Errors = 3
	rep, err := Analyze(res, AnalyzeOptions{Resamples: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failures(); rep.Passed || len(f) != 1 || f[0] != "errors: down: 50 of 50 requests failed (100%; allowed: not all); most frequent: 50× connection refused" {
		t.Errorf("failures %q: want only down, named with its top error", f)
	}
	five := 0.05
	rep, err = Analyze(res, AnalyzeOptions{Resamples: 1000, MaxErrors: &five})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failures(); len(f) != 2 || !strings.Contains(f[0], "eu: 3 of 50 requests failed (6%; allowed: at most 5%)") {
		t.Errorf("failures %q: want eu (6%% > 5%%) and down", f)
	}
}

func TestRegionsOptionsValidate(t *testing.T) {
	ok := []Target{{"eu", "http://127.0.0.1:1"}, {"us", "http://127.0.0.1:2"}}
	for name, o := range map[string]Options{
		"bad name":      {Targets: []Target{ok[0], {"u s", "http://x"}}, Rounds: 2},
		"no measuring":  {Targets: ok, Rounds: 5, Warmup: 5},
		"negative rate": {Targets: ok, Rounds: 5, Rate: -1},
		"bad timeout":   {Targets: ok, Rounds: 5, Timeout: -time.Second},
	} {
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: Validate() = %v, want an ErrInvalidOptions", name, err)
		}
	}
	if err := (Options{Targets: ok, Rounds: 5}).Validate(); err != nil {
		t.Errorf("good options: %v", err)
	}
	bad := 1.5
	for name, o := range map[string]AnalyzeOptions{
		"level 1.5":    {Level: 1.5},
		"level -0.1":   {Level: -0.1},
		"10 resamples": {Resamples: 10},
		"metric foo":   {Metric: "foo"},
		"quantile 2":   {Quantiles: []float64{2}},
		"errors 150%":  {MaxErrors: &bad},
	} {
		if err := o.Validate(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: Validate() = %v, want an ErrInvalidOptions", name, err)
		}
	}
	if err := (AnalyzeOptions{}).Validate(); err != nil {
		t.Errorf("zero AnalyzeOptions: %v", err)
	}
	targets, err := ParseTargets([]string{"eu=http://eu.test/", " us = http://us.test"})
	if err != nil || targets[0] != (Target{"eu", "http://eu.test"}) || targets[1] != (Target{"us", "http://us.test"}) {
		t.Errorf("ParseTargets = %v, %v", targets, err)
	}
	if _, err := ParseTargets([]string{"eu"}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("ParseTargets(eu) = %v, want an ErrInvalidOptions", err)
	}
}
