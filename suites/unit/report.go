package unit

import (
	"time"

	"github.com/helm-unittest/helm-unittest/pkg/unittest/results"
)

// Report is the outcome of [Run]: one ChartRun per chart and Kubernetes version.
type Report struct {
	Runs     []*ChartRun
	Duration time.Duration
	// Notes are things the run worked around, e.g. a worker process that
	// could not start.
	Notes []string
}

// ChartRun is one chart run at one Kubernetes version. Suites hold the
// engine's own results, in the order the suites were found.
type ChartRun struct {
	// Chart is the chart's name; empty when it could not be loaded.
	Chart string
	// Path is the chart as given (directory or .tgz).
	Path string
	// KubeVersion is the Kubernetes version the suites ran with; empty means
	// helm-unittest's default capabilities.
	KubeVersion string
	// Error says why the chart could not be tested at all (not loadable, a
	// suite file that does not parse); its suites then did not run.
	Error  error
	Suites []*results.TestSuiteResult

	jobs []*job // while running: the groups of suites whose results fill Suites
}

// Status is the verdict of a case or a suite.
type Status string

// The verdicts, as helm-unittest counts them.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// CaseStatus is the verdict of one case: helm-unittest counts a case as passed
// when it passed, else as skipped when skipped, else as failed (an errored
// case is a failed one).
func CaseStatus(c *results.TestJobResult) Status {
	switch {
	case c.Passed:
		return StatusPass
	case c.Skipped:
		return StatusSkip
	}
	return StatusFail
}

// SuiteStatus is the verdict of one suite, as helm-unittest counts it.
func SuiteStatus(s *results.TestSuiteResult) Status {
	switch {
	case s.Skipped:
		return StatusSkip
	case s.Passed:
		return StatusPass
	}
	return StatusFail
}

// Passed reports whether the chart could be tested and every suite passed.
func (r *ChartRun) Passed() bool {
	if r.Error != nil {
		return false
	}
	for _, s := range r.Suites {
		if !s.Passed {
			return false
		}
	}
	return true
}

// Tally counts verdicts of one kind of thing.
type Tally struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Errored int `json:"errored"`
	Skipped int `json:"skipped"`
}

// Total is every counted thing.
func (t Tally) Total() int { return t.Passed + t.Failed + t.Skipped }

// Counts are the tallies of a report, as helm-unittest's summary gives them.
type Counts struct {
	Charts Tally `json:"charts"`
	Suites Tally `json:"suites"`
	Tests  Tally `json:"tests"`
	// Snapshots: Passed and Failed comparisons; Created are new snapshots
	// (written only with -u), Vanished are stored ones no case compared.
	Snapshots Tally `json:"snapshots"`
	Created   int   `json:"snapshotsCreated"`
	Vanished  int   `json:"snapshotsVanished"`
	// SnapshotFailedSuites counts the failed suites with a failed snapshot.
	SnapshotFailedSuites int `json:"snapshotFailedSuites"`
}

// Count tallies the report.
func (r Report) Count() Counts {
	var c Counts
	for _, run := range r.Runs {
		switch {
		case run.Passed():
			c.Charts.Passed++
		case run.Error != nil:
			c.Charts.Failed++
			c.Charts.Errored++
		default:
			c.Charts.Failed++
		}
		for _, s := range run.Suites {
			switch SuiteStatus(s) {
			case StatusSkip:
				c.Suites.Skipped++
			case StatusPass:
				c.Suites.Passed++
			default:
				c.Suites.Failed++
				if s.ExecError != nil {
					c.Suites.Errored++
				}
				if s.SnapshotCounting.Failed > 0 {
					c.SnapshotFailedSuites++
				}
			}
			c.Snapshots.Failed += int(s.SnapshotCounting.Failed)
			c.Snapshots.Passed += int(s.SnapshotCounting.Total - s.SnapshotCounting.Failed)
			c.Created += int(s.SnapshotCounting.Created)
			c.Vanished += int(s.SnapshotCounting.Vanished)
			for _, t := range s.TestsResult {
				if t == nil {
					continue
				}
				switch CaseStatus(t) {
				case StatusPass:
					c.Tests.Passed++
				case StatusSkip:
					c.Tests.Skipped++
				default:
					c.Tests.Failed++
					if t.ExecError != nil {
						c.Tests.Errored++
					}
				}
			}
		}
	}
	return c
}

// Failed reports whether any chart failed or could not be tested.
func (r Report) Failed() bool {
	for _, run := range r.Runs {
		if !run.Passed() {
			return true
		}
	}
	return false
}
