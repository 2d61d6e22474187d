package unit

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// printSuite writes one suite's PASS/FAIL line and failure details in
// helm-unittest's layout.
func printSuite(w io.Writer, s SuiteResult) {
	status := " PASS "
	if !s.Passed {
		status = " FAIL "
	}
	fmt.Fprintf(w, "%s %s\t%s\n", status, s.Name, s.File)
	if s.Error != nil {
		fmt.Fprintf(w, "\t- Execution Error:\n\t\t%s\n\n", strings.ReplaceAll(s.Error.Error(), "\n", "\n\t\t"))
	}
	for _, t := range s.Tests {
		if t.Passed {
			continue
		}
		fmt.Fprintf(w, "\t- %s\n", t.Name)
		if t.Error != nil {
			fmt.Fprintf(w, "\t\tError: %s\n", strings.ReplaceAll(t.Error.Error(), "\n", "\n\t\t"))
		}
		for _, a := range t.Asserts {
			if a.Passed {
				continue
			}
			fmt.Fprintf(w, "\n\t\t- asserts[%d]%s `%s` fail\n", a.Index, notLabel(a.Not), a.Type)
			for _, l := range a.Info {
				fmt.Fprintf(w, "\t\t\t%s\n", l)
			}
		}
		fmt.Fprintln(w)
	}
}

func notLabel(not bool) string {
	if not {
		return " `not`"
	}
	return ""
}

// printSummary writes the closing counts.
func printSummary(w io.Writer, r Result) {
	fmt.Fprintln(w)
	charts := "1 passed, 1 total"
	if !r.Passed {
		charts = "1 failed, 0 passed, 1 total"
	}
	fmt.Fprintf(w, "Charts:      %s\n", charts)
	fmt.Fprintf(w, "Test Suites: %s\n", counts(r.SuitesPassed, r.SuitesFailed))
	fmt.Fprintf(w, "Tests:       %s\n", counts(r.TestsPassed, r.TestsFailed))
	fmt.Fprintf(w, "Snapshot:    %s\n", counts(r.SnapshotsPassed, r.SnapshotsFailed))
	fmt.Fprintf(w, "Time:        %s\n\n", r.Duration.Round(100*time.Microsecond))
}

func counts(passed, failed int) string {
	if failed > 0 {
		return fmt.Sprintf("%d failed, %d passed, %d total", failed, passed, passed+failed)
	}
	return fmt.Sprintf("%d passed, %d total", passed, passed)
}
