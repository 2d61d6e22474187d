package sdk

import (
	"github.com/shakedown-dev/shakedown/result"
)

// Report is the result in shakedown's one result model: a stage per SDK
// release, a check per conformance check (not-run checks are skips).
func (r *Result) Report() *result.Report {
	rep := &result.Report{Title: "shakedown e2e --sdk", Target: r.Target}
	for _, s := range r.SDKs {
		stage := "posthog-" + s.SDK
		for _, c := range s.Checks {
			ck := result.Check{Layer: "sdk", Stage: stage, Name: c.Name, Summary: c.Detail}
			switch c.Status {
			case Pass:
				ck.Status = result.Pass
			case Fail:
				ck.Status = result.Fail
			case NotRun:
				ck.Status = result.Skip
			default:
				ck.Status = result.Error
			}
			rep.Add(ck)
		}
		rep.Duration += s.Duration
	}
	rep.Finish()
	return rep
}
