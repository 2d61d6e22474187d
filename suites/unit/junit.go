package unit

import (
	"fmt"
	"io"
	"strings"

	"github.com/shakedown-dev/shakedown/internal/junit"
)

// writeJUnit writes the run as JUnit XML (one testsuite per suite file).
func writeJUnit(path string, r Result) error {
	var root junit.Suites
	for _, s := range r.Suites {
		js := junit.Suite{Name: s.Name, File: s.File}
		if s.Error != nil {
			js.Add(junit.Case{Name: "load", Classname: s.Name,
				Error: &junit.Problem{Message: "suite could not run", Type: "Error", Text: s.Error.Error()}})
		}
		for _, t := range s.Tests {
			jc := junit.Case{Name: t.Name, Classname: s.Name, Time: junit.Seconds(t.Duration)}
			switch {
			case t.Error != nil:
				jc.Error = &junit.Problem{Message: "test could not run", Type: "Error", Text: t.Error.Error()}
			case !t.Passed:
				jc.Failure = &junit.Problem{Message: "assertion failed", Type: "Failure", Text: failureText(t)}
			}
			js.Add(jc)
		}
		js.Time = junit.Seconds(s.Duration)
		root.Add(js)
	}
	root.Time = junit.Seconds(r.Duration)
	return junit.WriteFile(path, func(w io.Writer) error { return junit.Write(w, root) })
}

// failureText lists a case's failed assertions.
func failureText(t TestResult) string {
	var b strings.Builder
	for _, a := range t.Asserts {
		if a.Passed {
			continue
		}
		fmt.Fprintf(&b, "- asserts[%d]%s `%s` fail\n", a.Index, notLabel(a.Not), a.Type)
		for _, l := range a.Info {
			fmt.Fprintf(&b, "\t%s\n", l)
		}
	}
	return b.String()
}
