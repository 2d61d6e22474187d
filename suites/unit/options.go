package unit

import (
	"io"
	"time"
)

// DefaultTestGlob is where suites are looked for when Options.TestGlobs is
// empty, relative to the chart directory (helm-unittest's default).
const DefaultTestGlob = "tests/*_test.yaml"

// Options says which chart and suites to run and where results go.
type Options struct {
	// ChartDir is the chart's directory (the one holding Chart.yaml).
	ChartDir string
	// TestGlobs select suite files, relative to ChartDir unless absolute.
	// Empty means DefaultTestGlob.
	TestGlobs []string
	// UpdateSnapshots rewrites __snapshot__ files instead of comparing.
	UpdateSnapshots bool
	// Out receives helm-unittest style text output; nil discards it.
	Out io.Writer
	// JUnitPath, when set, is where a JUnit XML report is written.
	JUnitPath string
	// Parallelism bounds how many test cases render at once; 0 means
	// runtime.GOMAXPROCS(0).
	Parallelism int
}

// Result sums up a run.
type Result struct {
	Suites   []SuiteResult
	Passed   bool
	Duration time.Duration
	// Counts over all suites.
	SuitesPassed, SuitesFailed int
	TestsPassed, TestsFailed   int
	SnapshotsPassed            int
	SnapshotsFailed            int
	SnapshotsCreated           int
}

// SuiteResult is the outcome of one suite file.
type SuiteResult struct {
	Name     string
	File     string
	Passed   bool
	Error    error // the suite could not be loaded or run at all
	Tests    []TestResult
	Duration time.Duration
}

// TestResult is the outcome of one `it` case.
type TestResult struct {
	Name     string
	Passed   bool
	Error    error // the case could not run (bad values file, bad set path...)
	Asserts  []AssertResult
	Duration time.Duration
}

// AssertResult is the outcome of one assertion of a case.
type AssertResult struct {
	Index  int
	Type   string
	Not    bool
	Passed bool
	// Info holds helm-unittest style failure lines (tab-indented).
	Info []string
}
