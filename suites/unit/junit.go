package unit

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// junitSuites is the root of a JUnit XML report.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	File     string      `xml:"file,attr,omitempty"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes the run as JUnit XML (one testsuite per suite file).
func writeJUnit(path string, r Result) error {
	root := junitSuites{Time: seconds(r.Duration.Seconds())}
	for _, s := range r.Suites {
		js := junitSuite{Name: s.Name, File: s.File, Tests: len(s.Tests), Time: seconds(s.Duration.Seconds())}
		if s.Error != nil {
			js.Errors++
			js.Cases = append(js.Cases, junitCase{Name: "load", Classname: s.Name, Time: "0",
				Error: &junitFailure{Message: "suite could not run", Type: "Error", Text: s.Error.Error()}})
		}
		for _, t := range s.Tests {
			jc := junitCase{Name: t.Name, Classname: s.Name, Time: seconds(t.Duration.Seconds())}
			switch {
			case t.Error != nil:
				js.Errors++
				jc.Error = &junitFailure{Message: "test could not run", Type: "Error", Text: t.Error.Error()}
			case !t.Passed:
				js.Failures++
				jc.Failure = &junitFailure{Message: "assertion failed", Type: "Failure", Text: failureText(t)}
			}
			js.Cases = append(js.Cases, jc)
		}
		root.Tests += js.Tests
		root.Failures += js.Failures
		root.Errors += js.Errors
		root.Suites = append(root.Suites, js)
	}
	data, err := xml.MarshalIndent(root, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JUnit report: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create directory for JUnit report %s: %w", path, err)
		}
	}
	if err := os.WriteFile(path, append([]byte(xml.Header), data...), 0o644); err != nil {
		return fmt.Errorf("write JUnit report %s: %w (check --junit points at a writable path)", path, err)
	}
	return nil
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

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
