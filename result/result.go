// Package result is the one result model of shakedown's layers and of the
// release gate: checks with their layer, stage, status, duration,
// measurements and evidence, gathered in a Report that opens with its verdict.
// The Report encodes itself as text, JSON, JUnit XML, Markdown (a GitHub step
// summary) and HTML; Read decodes the JSON form again, e.g. a previous gate's
// result to compare with.
package result

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"
)

// Status is the outcome of a check, a stage or a report.
type Status string

// The statuses, from best to worst.
const (
	// Pass: the check ran and held.
	Pass Status = "pass"
	// Skip: the check did not apply (its reason is in Check.Summary).
	Skip Status = "skip"
	// Fail: the check ran and did not hold.
	Fail Status = "fail"
	// Error: the check could not run to its end (its cause is in Check.Summary).
	Error Status = "error"
)

// worse tells whether s is a worse outcome than o.
func (s Status) worse(o Status) bool { return s.rank() > o.rank() }

func (s Status) rank() int {
	switch s {
	case Pass:
		return 0
	case Skip:
		return 1
	case Fail:
		return 2
	}
	return 3
}

// Failed tells whether s fails what holds it (Fail or Error).
func (s Status) Failed() bool { return s == Fail || s == Error }

// Measurement is one number a check measured, with the limit it was held to.
type Measurement struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Unit is the value's unit: "ms", "/s", "%", "events", "s" or "" for a count.
	Unit string `json:"unit,omitempty"`
	// Limit is the rule the value was held to, as written ("< 300ms"), empty
	// when it is only reported.
	Limit string `json:"limit,omitempty"`
	// Pass is whether the value kept to Limit (true without a Limit).
	Pass bool `json:"pass"`
}

// String formats m as "name value unit (limit)".
func (m Measurement) String() string {
	s := fmt.Sprintf("%s %s", m.Name, formatValue(m.Value, m.Unit))
	if m.Limit != "" {
		mark := "ok"
		if !m.Pass {
			mark = "FAILED"
		}
		s += fmt.Sprintf(" (want %s: %s)", m.Limit, mark)
	}
	return s
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "":
		return fmt.Sprintf("%.0f", v)
	case "%", "ms", "s", "/s":
		return Number(v) + unit
	}
	return Number(v) + " " + unit // a word: "2000 events"
}

// Number formats v in fixed point with three significant digits at most
// (never an exponent): 12345, 123, 12.3, 1.23, 0.0123.
func Number(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100 || a == 0:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	digits := 2 - int(math.Floor(math.Log10(a)))
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// Check is one thing checked.
type Check struct {
	// Layer is the layer that ran it (lint, unit, integration, e2e, load,
	// smoke, faults, golive); Stage the gate stage it belongs to.
	Layer string `json:"layer"`
	Stage string `json:"stage"`
	// Name says what was checked, e.g. "events sent == events stored".
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Summary is one line: what held, what did not, or why it was skipped.
	Summary  string        `json:"summary"`
	Duration time.Duration `json:"duration_ns"`
	// Measurements are the numbers behind the status.
	Measurements []Measurement `json:"measurements,omitempty"`
	// Evidence is what a reader needs to act on a failure: missing uuids,
	// replies, log lines.
	Evidence []string `json:"evidence,omitempty"`
	// Samples are raw observations by name (e.g. latencies in ms), kept so a
	// later run can compare with this one by bootstrap rather than by one
	// number each.
	Samples map[string][]float64 `json:"samples,omitempty"`
}

// Measurement returns the measurement named name.
func (c *Check) Measurement(name string) (Measurement, bool) {
	for _, m := range c.Measurements {
		if m.Name == name {
			return m, true
		}
	}
	return Measurement{}, false
}

// StageResult is the outcome of one stage: the worst of its checks.
type StageResult struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Checks   int           `json:"checks"`
	Failed   int           `json:"failed"`
	Duration time.Duration `json:"duration_ns"`
}

// Report is a run's checks and what they add up to.
type Report struct {
	// Title names the run, e.g. "shakedown gate".
	Title string `json:"title"`
	// Target is what was checked: a URL, a state directory, a release.
	Target   string        `json:"target"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Meta holds the run's context: command line, gate file, seed, versions.
	Meta   map[string]string `json:"meta,omitempty"`
	Checks []Check           `json:"checks"`
	// Verdict, Stages and FirstFailure are derived from Checks by Finish.
	Verdict      Status        `json:"verdict"`
	Stages       []StageResult `json:"stages"`
	FirstFailure *Check        `json:"first_failure,omitempty"`
}

// Add appends checks.
func (r *Report) Add(c ...Check) { r.Checks = append(r.Checks, c...) }

// Finish derives the verdict, the stages (in the order they first appear)
// and the first failing check from Checks. A report without a passing check
// (none, or only skips) has the verdict Error: nothing was shown to hold.
func (r *Report) Finish() {
	r.Stages, r.FirstFailure, r.Verdict = nil, nil, Pass
	index := map[string]int{}
	for i := range r.Checks {
		c := &r.Checks[i]
		k, ok := index[c.Stage]
		if !ok {
			k = len(r.Stages)
			index[c.Stage] = k
			r.Stages = append(r.Stages, StageResult{Name: c.Stage, Status: Pass})
		}
		st := &r.Stages[k]
		st.Checks++
		st.Duration += c.Duration
		if c.Status.Failed() {
			st.Failed++
			if r.FirstFailure == nil {
				r.FirstFailure = c
			}
		}
		if c.Status.worse(st.Status) && c.Status != Skip {
			st.Status = c.Status
		}
		if c.Status.Failed() && c.Status.worse(r.Verdict) {
			r.Verdict = c.Status
		}
	}
	for i := range r.Stages { // a stage of skips only is skipped
		if r.Stages[i].Status == Pass && allSkipped(r.Checks, r.Stages[i].Name) {
			r.Stages[i].Status = Skip
		}
	}
	if r.Verdict == Pass && !anyPassed(r.Checks) { // nothing was shown to hold
		r.Verdict = Error
	}
}

func anyPassed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Pass {
			return true
		}
	}
	return false
}

func allSkipped(checks []Check, stage string) bool {
	for _, c := range checks {
		if c.Stage == stage && c.Status != Skip {
			return false
		}
	}
	return true
}

// Passed tells whether the verdict is Pass.
func (r *Report) Passed() bool { return r.Verdict == Pass }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write the JSON report: %w", err)
	}
	return nil
}

// Read decodes a report WriteJSON wrote.
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read result %s: %w", path, err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("result %s is not a shakedown JSON result: %w", path, err)
	}
	if r.Checks == nil {
		return nil, fmt.Errorf("result %s holds no checks: pass a file written with --report json", path)
	}
	return &r, nil
}
