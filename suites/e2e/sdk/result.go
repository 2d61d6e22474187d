package sdk

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/internal/junit"
)

// Status of one check.
type Status string

// Check statuses.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	NotRun  Status = "not-run" // what it needs was not given (say which in Detail)
	Errored Status = "error"   // the SDK could not be driven at all
)

// Check is one thing verified about one SDK.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail says what was measured, or why it failed or did not run.
	Detail string `json:"detail,omitempty"`
}

// SDKResult is everything verified about one SDK release.
type SDKResult struct {
	SDK string `json:"sdk"` // name@version
	// Sent is how many events the SDK reported delivered (with their uuids).
	Sent int `json:"sent"`
	// Stored is how many of them ClickHouse holds (rows after folding
	// duplicates); Distinct counts distinct uuids, RawRows rows before folding.
	Stored   uint64         `json:"stored"`
	Distinct uint64         `json:"distinct"`
	RawRows  uint64         `json:"raw_rows"`
	Missing  []string       `json:"missing,omitempty"`
	Flags    map[string]any `json:"flags,omitempty"` // flag answers as the SDK returned them, by scenario
	Checks   []Check        `json:"checks"`
	Duration time.Duration  `json:"duration_ns"`
}

// Failed says a check of r failed or errored.
func (r *SDKResult) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail || c.Status == Errored {
			return true
		}
	}
	return false
}

func (r *SDKResult) add(name string, ok bool, detail string, args ...any) {
	st := Pass
	if !ok {
		st = Fail
	}
	r.Checks = append(r.Checks, Check{Name: name, Status: st, Detail: fmt.Sprintf(detail, args...)})
}

func (r *SDKResult) notRun(name, why string) {
	r.Checks = append(r.Checks, Check{Name: name, Status: NotRun, Detail: why})
}

func (r *SDKResult) errored(name string, err error) {
	r.Checks = append(r.Checks, Check{Name: name, Status: Errored, Detail: err.Error()})
}

// Result is the outcome of Run.
type Result struct {
	Target string      `json:"target"`
	SDKs   []SDKResult `json:"sdks"`
}

// Failed says a check of any SDK failed or errored.
func (r *Result) Failed() bool {
	for i := range r.SDKs {
		if r.SDKs[i].Failed() {
			return true
		}
	}
	return false
}

// WriteText writes a per-SDK summary and every check, one line each.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.SDKs {
		verdict := "PASS"
		if s.Failed() {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s: sent %d, stored %d rows (%d distinct uuids, %d before folding), missing %d, %s\n",
			verdict, s.SDK, s.Sent, s.Stored, s.Distinct, s.RawRows, len(s.Missing), s.Duration.Round(100*time.Millisecond))
		for _, c := range s.Checks {
			fmt.Fprintf(&b, "  %-7s %-34s %s\n", c.Status, c.Name, c.Detail)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes r as one indented JSON document.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteJUnit writes one test suite per SDK and one case per check; checks
// that did not run are skipped cases.
func (r *Result) WriteJUnit(w io.Writer) error {
	var all junit.Suites
	for _, s := range r.SDKs {
		suite := junit.Suite{Name: "sdk/" + s.SDK, Time: junit.Seconds(s.Duration)}
		for _, c := range s.Checks {
			tc := junit.Case{Name: c.Name, Classname: "sdk/" + s.SDK}
			switch c.Status {
			case Fail:
				tc.Failure = &junit.Problem{Message: c.Detail}
			case Errored:
				tc.Error = &junit.Problem{Message: c.Detail}
			case NotRun:
				tc.Skipped = &junit.Problem{Message: c.Detail}
			}
			suite.Add(tc)
		}
		all.Add(suite)
	}
	return junit.Write(w, all)
}
