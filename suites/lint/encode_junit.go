package lint

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/shakedown-dev/shakedown/internal/junit"
)

// EncodeJUnit writes JUnit XML: a test suite per cloud@version cell and a test
// case per rule, failing with the rule's unwaived errors in that cell;
// warnings, notices and waived findings go to the case's system-out.
func EncodeJUnit(w io.Writer, r Report) error {
	root := junit.Suites{Name: "shakedown lint " + r.Chart}
	for _, cell := range r.Cells() {
		suite := junit.Suite{Name: cell.String()}
		for _, rule := range r.Rules {
			tc := junit.Case{Name: rule.ID + " " + rule.Title, Classname: "lint." + cell.Cloud + "." + strings.ReplaceAll(cell.KubeVersion, ".", "_")}
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
				tc.Failure = &junit.Problem{Type: rule.ID, Message: fmt.Sprintf("%d %s findings; fix: %s", len(failures), rule.ID, rule.Fix),
					Text: strings.Join(failures, "\n")}
			}
			tc.SystemOut = strings.Join(other, "\n")
			suite.Add(tc)
		}
		root.Add(suite)
	}
	if err := junit.Write(w, root); err != nil {
		return fmt.Errorf("lint: %w", err)
	}
	return nil
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
