package unit

import (
	"fmt"
	"io"
	"time"

	"github.com/shakedown-dev/shakedown/result"
)

// Result is the report in shakedown's one result model: a check per test
// case (per chart and Kubernetes version), failed with the engine's
// assertion messages as evidence; a chart that could not be tested, or a
// suite that did not run, is an error check.
func (r Report) Result() *result.Report {
	rep := &result.Report{Title: "shakedown unit", Duration: r.Duration, Started: time.Now().Add(-r.Duration)}
	for _, run := range r.Runs {
		if rep.Target == "" {
			rep.Target = run.Path
		}
		stage := run.Chart
		if stage == "" {
			stage = run.Path
		}
		if run.KubeVersion != "" {
			stage += " @ Kubernetes " + run.KubeVersion
		}
		if run.Error != nil {
			rep.Add(result.Check{Layer: "unit", Stage: stage, Name: run.Path, Status: result.Error, Summary: run.Error.Error()})
			continue
		}
		for _, s := range run.Suites {
			if s.ExecError != nil && len(s.TestsResult) == 0 {
				rep.Add(result.Check{Layer: "unit", Stage: stage, Name: s.FilePath, Status: result.Error, Summary: s.ExecError.Error()})
				continue
			}
			for _, c := range s.TestsResult {
				if c == nil {
					continue
				}
				ck := result.Check{Layer: "unit", Stage: stage, Name: fmt.Sprintf("%s: %s", s.DisplayName, c.DisplayName), Duration: c.Duration}
				switch CaseStatus(c) {
				case StatusPass:
					ck.Status, ck.Summary = result.Pass, "passed"
				case StatusSkip:
					ck.Status, ck.Summary = result.Skip, "skipped"
				default:
					ck.Status, ck.Summary = result.Fail, "failed ("+s.FilePath+")"
					ck.Evidence = failures(c)
					if c.ExecError != nil {
						ck.Status, ck.Summary = result.Error, c.ExecError.Error()
					}
				}
				rep.Add(ck)
			}
		}
	}
	rep.Finish()
	return rep
}

// EncodeMarkdown writes the report as Markdown (a GitHub step summary).
func EncodeMarkdown(w io.Writer, r Report) error { return r.Result().WriteMarkdown(w) }

// EncodeHTML writes the report as a self-contained HTML page.
func EncodeHTML(w io.Writer, r Report) error { return r.Result().WriteHTML(w) }
