package integration

import (
	"fmt"
	"strings"
)

// AssertionError is a failed check: every problem names an object and a fix.
type AssertionError struct {
	// Check is the assertion's name, e.g. "WorkloadsReady".
	Check     string
	Namespace string
	Problems  []string
}

func (e *AssertionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in namespace %s: %d problem(s)", e.Check, e.Namespace, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// problems collects an assertion's findings.
type problems struct {
	check, namespace string
	list             []string
}

func (p *problems) addf(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// err is nil without problems, else an *AssertionError.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &AssertionError{Check: p.check, Namespace: p.namespace, Problems: p.list}
}
