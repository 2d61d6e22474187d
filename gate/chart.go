package gate

import (
	"context"
	"fmt"
	"strings"

	"github.com/shakedown-dev/shakedown/result"
	"github.com/shakedown-dev/shakedown/suites/lint"
	"github.com/shakedown-dev/shakedown/suites/unit"
)

// maxEvidence bounds the lines of evidence one check carries.
const maxEvidence = 20

// chart lints the chart over its overlays and Kubernetes versions, then runs
// its helm-unittest suites, as `shakedown lint` and `shakedown unit` do.
func (r *runner) chart(ctx context.Context) bool {
	st := r.cfg.Stages.Chart
	r.step(StageChart, "lint "+r.opts.Chart)
	l := r.check(StageChart, "lint", "lint", func() result.Check {
		rep, err := lint.Run(ctx, lint.Options{ChartDir: r.opts.Chart, KubeVersions: st.Kubernetes})
		if err != nil {
			return result.Check{Status: result.Error, Summary: fmt.Sprintf("lint %s: %v", r.opts.Chart, err)}
		}
		n := rep.Count()
		ms := []result.Measurement{
			{Name: "errors", Value: float64(n.Errors), Limit: "= 0", Pass: !rep.Failed()},
			{Name: "warnings", Value: float64(n.Warnings), Pass: true},
			{Name: "cells", Value: float64(len(rep.Cells())), Pass: true},
			{Name: "objects", Value: float64(rep.Objects), Pass: true},
		}
		var evidence []string
		for _, f := range rep.Findings {
			if f.Failing() && len(evidence) < maxEvidence {
				evidence = append(evidence, fmt.Sprintf("%s %s %s: %s (in %d cells)", f.Rule, f.File, f.Object, f.Message, len(f.Cells)))
			}
		}
		if rep.Failed() {
			return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence,
				Summary: fmt.Sprintf("%s: %s", r.opts.Chart, rep.Summary())}
		}
		return result.Check{Status: result.Pass, Measurements: ms,
			Summary: fmt.Sprintf("%d cells (%s × %s): %s", len(rep.Cells()), strings.Join(rep.Clouds, ","), strings.Join(rep.KubeVersions, ","), rep.Summary())}
	})
	r.step(StageChart, "helm-unittest suites")
	u := r.check(StageChart, "unit", "unit", func() result.Check {
		rep, err := unit.Run(ctx, unit.Options{Charts: []string{r.opts.Chart}, KubeVersions: st.Kubernetes, Worker: r.opts.UnitWorker})
		if err != nil {
			return result.Check{Status: result.Error, Summary: fmt.Sprintf("unit %s: %v", r.opts.Chart, err)}
		}
		n := rep.Count()
		ms := []result.Measurement{
			{Name: "failed tests", Value: float64(n.Tests.Failed), Limit: "= 0", Pass: n.Tests.Failed == 0},
			{Name: "passed tests", Value: float64(n.Tests.Passed), Pass: true},
			{Name: "suites", Value: float64(n.Suites.Passed + n.Suites.Failed + n.Suites.Skipped), Pass: true},
		}
		var evidence []string
		for _, run := range rep.Runs {
			if run.Error != nil {
				evidence = append(evidence, fmt.Sprintf("%s: %v", run.Path, run.Error))
			}
			for _, s := range run.Suites {
				for _, t := range s.TestsResult {
					if t != nil && unit.CaseStatus(t) == unit.StatusFail && len(evidence) < maxEvidence {
						evidence = append(evidence, fmt.Sprintf("%s: %s: %s", s.FilePath, s.DisplayName, t.DisplayName))
					}
				}
			}
		}
		if rep.Failed() {
			return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence,
				Summary: fmt.Sprintf("%d of %d tests failed", n.Tests.Failed, n.Tests.Failed+n.Tests.Passed)}
		}
		if n.Tests.Passed == 0 {
			return result.Check{Status: result.Skip, Measurements: ms, Summary: "the chart has no helm-unittest suites (tests/*_test.yaml)"}
		}
		return result.Check{Status: result.Pass, Measurements: ms, Summary: fmt.Sprintf("%d tests in %d suites passed", n.Tests.Passed, n.Suites.Passed)}
	})
	return l.Status == result.Pass && !u.Status.Failed()
}
