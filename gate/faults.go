package gate

import (
	"context"
	"fmt"
	"time"

	"github.com/shakedown-dev/shakedown/result"
	"github.com/shakedown-dev/shakedown/suites/e2e/drill"
)

// faultNames are the drills the faults stage knows.
func faultNames() []string {
	var names []string
	for _, f := range drill.Faults(nil) {
		names = append(names, f.Name)
	}
	return names
}

// faults drills each configured fault through the deployment's control
// endpoint: RPO (acknowledged events lost) must be 0 and RTO at most MaxRTO.
func (r *runner) faults(ctx context.Context) bool {
	st := r.cfg.Stages.Faults
	if r.t.ControlURL == "" {
		r.check(StageFaults, "faults", "faults", func() result.Check {
			return result.Check{Status: result.Skip, Summary: "no fault control for this deployment: drills need the local stack of `shakedown stack up --state DIR` (pass --state)"}
		})
		return true
	}
	conn, err := r.clickhouse(ctx)
	if err != nil {
		r.check(StageFaults, "faults", "faults", func() result.Check { return result.Check{Status: result.Error, Summary: err.Error()} })
		return false
	}
	byName := map[string]drill.Fault{}
	for _, f := range drill.RemoteFaults(r.t.ControlURL, r.t.ControlToken) {
		byName[f.Name] = f
	}
	ok := true
	for i, name := range st.Faults {
		r.step(StageFaults, name)
		c := r.check(StageFaults, "faults", name, func() result.Check {
			res, err := drill.Run(ctx, drill.Options{Target: r.t.CaptureURL, Token: r.t.Token, ClickHouse: conn, Database: r.t.Database,
				Fault: byName[name], Events: st.Events, Stream: time.Duration(st.Stream), Seed: r.uuidSeed + uint64(i+1)*7919})
			if res == nil {
				return result.Check{Status: result.Error, Summary: err.Error()}
			}
			rto := res.RTO
			ms := []result.Measurement{
				{Name: "RPO (acknowledged events lost)", Value: float64(res.MissingCount), Unit: "events", Limit: "= 0", Pass: res.MissingCount == 0},
				{Name: "RTO", Value: rto.Seconds(), Unit: "s", Limit: fmt.Sprintf("<= %s", time.Duration(st.MaxRTO)), Pass: res.RTOErr == "" && rto <= time.Duration(st.MaxRTO)},
				{Name: "acknowledged", Value: float64(res.Acked), Unit: "events", Pass: true},
				{Name: "refused during the fault", Value: float64(res.Refused), Unit: "events", Pass: true},
				{Name: "duplicate rows", Value: float64(res.Stored) - float64(min(res.Stored, res.Distinct)), Limit: "= 0", Pass: res.Stored == res.Distinct},
			}
			evidence := []string{res.String()}
			if len(res.Missing) > 0 {
				evidence = append(evidence, fmt.Sprintf("first lost uuids: %v", res.Missing))
			}
			evidence = append(evidence, res.RefusedErrors...)
			switch {
			case err != nil:
				return result.Check{Status: result.Error, Summary: err.Error(), Measurements: ms, Evidence: evidence}
			case res.InjectErr != "" || res.RecoverErr != "":
				return result.Check{Status: result.Error, Summary: fmt.Sprintf("could not drill %s: %s%s", name, res.InjectErr, res.RecoverErr), Measurements: ms, Evidence: evidence}
			case !res.Passed():
				return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence,
					Summary: fmt.Sprintf("%d of %d acknowledged events lost, %d stored, %s", res.MissingCount, res.Acked, res.Stored, orNone(res.RTOErr))}
			case rto > time.Duration(st.MaxRTO):
				return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence,
					Summary: fmt.Sprintf("events flowed again %s after the fault ended, over the %s allowed", rto.Round(10*time.Millisecond), time.Duration(st.MaxRTO))}
			}
			return result.Check{Status: result.Pass, Measurements: ms, Evidence: evidence,
				Summary: fmt.Sprintf("RPO 0 (all %d acknowledged stored once), RTO %s", res.Acked, rto.Round(10*time.Millisecond))}
		})
		ok = ok && c.Status == result.Pass
	}
	return ok
}

func orNone(s string) string {
	if s == "" {
		return "events flowed again after it"
	}
	return s
}
