package lint

import (
	"fmt"
	"io"
	"slices"

	"github.com/shakedown-dev/shakedown/result"
)

// maxRuleEvidence bounds the findings listed under one rule's check.
const maxRuleEvidence = 50

// Result is the report in shakedown's one result model: a check per rule
// that ran (and per other source of findings, such as helm lint), failed
// when the rule found an unwaived error, with its findings as evidence.
func (r Report) Result() *result.Report {
	rep := &result.Report{Title: "shakedown lint", Target: r.Chart,
		Meta: map[string]string{"matrix": fmt.Sprintf("%d clouds × %d Kubernetes versions, %d objects", len(r.Clouds), len(r.KubeVersions), r.Objects)}}
	byRule := map[string][]Finding{}
	var order []string
	for _, rule := range r.Rules {
		order = append(order, rule.ID)
	}
	for _, f := range r.Findings {
		if !slices.Contains(order, f.Rule) {
			order = append(order, f.Rule)
		}
		byRule[f.Rule] = append(byRule[f.Rule], f)
	}
	title := map[string]string{}
	for _, rule := range r.Rules {
		title[rule.ID] = rule.Title
	}
	for _, id := range order {
		fs := byRule[id]
		name := id
		if t := title[id]; t != "" {
			name += " " + t
		}
		c := result.Check{Layer: "lint", Stage: "lint", Name: name, Status: result.Pass, Summary: "no findings"}
		var errs, warns, notes, waived int
		for i, f := range fs {
			switch {
			case f.Waived:
				waived++
			case f.Severity == SeverityError:
				errs++
			case f.Severity == SeverityWarning:
				warns++
			default:
				notes++
			}
			if i < maxRuleEvidence {
				c.Evidence = append(c.Evidence, fmt.Sprintf("[%s] %s %s: %s (%s)", f.Severity, f.File, f.Object, f.Message, where(f.Cells, r)))
			}
		}
		if len(fs) > 0 {
			c.Summary = fmt.Sprintf("%d errors, %d warnings, %d notices, %d waived", errs, warns, notes, waived)
		}
		if errs > 0 {
			c.Status = result.Fail
		}
		c.Measurements = []result.Measurement{{Name: "errors", Value: float64(errs), Limit: "= 0", Pass: errs == 0}}
		rep.Add(c)
	}
	rep.Finish()
	return rep
}

// EncodeMarkdown writes the report as Markdown (a GitHub step summary).
func EncodeMarkdown(w io.Writer, r Report) error { return r.Result().WriteMarkdown(w) }

// EncodeHTML writes the report as a self-contained HTML page.
func EncodeHTML(w io.Writer, r Report) error { return r.Result().WriteHTML(w) }
