package integration

import (
	"io"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/result"
)

// Result is the report in shakedown's one result model: a stage per
// Kubernetes version and cloud, a check per step, failed steps with their
// message as evidence.
func (r Report) Result() *result.Report {
	rep := &result.Report{Title: "shakedown integration", Target: r.Chart, Duration: r.Duration, Started: time.Now().Add(-r.Duration)}
	if r.From != "" {
		rep.Meta = map[string]string{"upgraded from": r.From}
	}
	for _, row := range r.Rows {
		stage := "Kubernetes " + row.KubeVersion
		if row.Cloud != "" {
			stage += " / " + row.Cloud
		}
		c := result.Check{Layer: "integration", Stage: stage, Name: string(row.Step), Duration: row.Duration, Summary: strings.SplitN(strings.TrimSpace(row.Message), "\n", 2)[0]}
		switch row.Status {
		case StatusPass:
			c.Status = result.Pass
		case StatusFail:
			c.Status = result.Fail
			c.Evidence = strings.Split(strings.TrimSpace(row.Message), "\n")
		default:
			c.Status = result.Skip
		}
		if c.Summary == "" {
			c.Summary = string(row.Status)
		}
		rep.Add(c)
	}
	rep.Finish()
	return rep
}

// EncodeMarkdown writes the report as Markdown (a GitHub step summary).
func EncodeMarkdown(w io.Writer, r Report) error { return r.Result().WriteMarkdown(w) }

// EncodeHTML writes the report as a self-contained HTML page.
func EncodeHTML(w io.Writer, r Report) error { return r.Result().WriteHTML(w) }
