package integration

import (
	"fmt"
	"io"
	"strings"

	"github.com/shakedown-dev/shakedown/internal/junit"
)

// EncodeJUnit writes JUnit XML: a test suite per Kubernetes version, a test
// case per cloud × step with its duration; failed steps are failures with
// the full message, skipped steps are skipped.
func EncodeJUnit(w io.Writer, r Report) error {
	root := junit.Suites{Name: "shakedown integration " + r.Chart}
	var suites []junit.Suite
	index := map[string]int{}
	for _, row := range r.Rows {
		i, ok := index[row.KubeVersion]
		if !ok {
			i = len(suites)
			index[row.KubeVersion] = i
			suites = append(suites, junit.Suite{Name: "kubernetes " + row.KubeVersion})
		}
		c := junit.Case{
			Name:      orDash(row.Cloud) + "/" + string(row.Step),
			Classname: "integration.k8s_" + strings.ReplaceAll(row.KubeVersion, ".", "_") + "." + orDash(row.Cloud),
			Time:      junit.Seconds(row.Duration),
		}
		switch row.Status {
		case StatusFail:
			c.Failure = &junit.Problem{Type: string(row.Step), Message: strings.TrimPrefix(firstLine(row.Message), ": "), Text: row.Message}
		case StatusSkip:
			c.Skipped = &junit.Problem{Message: row.Message}
		}
		suites[i].Add(c)
	}
	for _, s := range suites {
		root.Add(s)
	}
	if err := junit.Write(w, root); err != nil {
		return fmt.Errorf("integration: %w", err)
	}
	return nil
}
