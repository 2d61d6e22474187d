package lint

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
)

// junitSuites is the JUnit XML root: one suite per cell, one test case per rule.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// EncodeJUnit writes JUnit XML: a test suite per cloud@version cell and a test
// case per rule, failing with the rule's unwaived errors in that cell;
// warnings, notices and waived findings go to the case's system-out.
func EncodeJUnit(w io.Writer, r Report) error {
	root := junitSuites{Name: "shakedown lint " + r.Chart}
	for _, cell := range r.Cells() {
		suite := junitSuite{Name: cell.String()}
		for _, rule := range r.Rules {
			tc := junitCase{Name: rule.ID + " " + rule.Title, Classname: "lint." + cell.Cloud + "." + strings.ReplaceAll(cell.KubeVersion, ".", "_")}
			var failures, other []string
			for _, f := range r.Findings {
				if f.Rule != rule.ID || !slices.Contains(f.Cells, cell) {
					continue
				}
				line := junitLine(f)
				if f.Failing() {
					failures = append(failures, line)
				} else {
					other = append(other, line)
				}
			}
			if len(failures) > 0 {
				tc.Failure = &junitFailure{Type: rule.ID, Message: fmt.Sprintf("%d %s findings; fix: %s", len(failures), rule.ID, rule.Fix),
					Text: strings.Join(failures, "\n")}
				suite.Failures++
			}
			tc.SystemOut = strings.Join(other, "\n")
			suite.Cases = append(suite.Cases, tc)
			suite.Tests++
		}
		root.Tests += suite.Tests
		root.Failures += suite.Failures
		root.Suites = append(root.Suites, suite)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("lint: write JUnit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("lint: write JUnit report: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitLine is one finding in a JUnit case.
func junitLine(f Finding) string {
	label := string(f.Severity)
	if f.Waived {
		label = "waived"
	}
	subject := strings.TrimSpace(f.Object.String() + " " + f.File)
	return fmt.Sprintf("%s %s %s: %s", label, f.Rule, subject, f.Message)
}
