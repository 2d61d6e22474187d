package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shakedown-dev/shakedown/result"
	"github.com/shakedown-dev/shakedown/suites/e2e"
	"github.com/shakedown-dev/shakedown/suites/e2e/sdk"
)

// e2e sends uniquely identified events through every encoding and requires
// each acknowledged one stored exactly once, then asks for a person's flags.
func (r *runner) e2e(ctx context.Context) bool {
	st := r.cfg.Stages.E2E
	r.step(StageE2E, fmt.Sprintf("sending %d events, waiting until every acknowledged one is stored", st.Events))
	c := r.check(StageE2E, "e2e", "events sent == events stored", func() result.Check {
		conn, err := r.clickhouse(ctx)
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		res, err := e2e.Run(ctx, e2e.Options{Target: r.t.CaptureURL, Token: r.t.Token, ClickHouse: conn, Database: r.t.Database,
			Events: st.Events, People: st.People, Seed: r.uuidSeed, Wait: time.Duration(st.Wait), RetryFor: 30 * time.Second, KeepGoing: true})
		if err != nil {
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		sent, stored := res.Sent, res.Stored
		acked := uint64(len(sent.Acked))
		ms := []result.Measurement{
			{Name: "sent", Value: float64(st.Events), Unit: "events", Pass: true},
			{Name: "acknowledged", Value: float64(acked), Unit: "events", Pass: true},
			{Name: "refused", Value: float64(len(sent.Refused)), Unit: "events", Limit: "= 0", Pass: len(sent.Refused) == 0},
			{Name: "lost", Value: float64(stored.MissingCount), Unit: "events", Limit: "= 0", Pass: stored.MissingCount == 0},
			{Name: "duplicates", Value: float64(stored.Rows) - float64(min(stored.Rows, stored.Distinct)), Unit: "rows", Limit: "= 0", Pass: stored.Rows == stored.Distinct},
		}
		evidence := []string{"statuses " + statuses(sent.Status)}
		if len(stored.Missing) > 0 {
			evidence = append(evidence, "first missing uuids: "+strings.Join(stored.Missing, " "))
		}
		evidence = append(evidence, sent.RefusedErrors...)
		switch {
		case res.Passed():
		case res.WaitErr != nil && stored.MissingCount == 0:
			return result.Check{Status: result.Error, Summary: fmt.Sprintf("counting stored events: %v", res.WaitErr), Measurements: ms, Evidence: evidence}
		case stored.MissingCount > 0:
			return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence,
				Summary: fmt.Sprintf("%d of %d acknowledged events not stored after %s", stored.MissingCount, acked, time.Duration(st.Wait))}
		default:
			return result.Check{Status: result.Fail, Measurements: ms, Evidence: evidence, Summary: res.Failure()}
		}
		return result.Check{Status: result.Pass, Measurements: ms, Evidence: evidence,
			Summary: fmt.Sprintf("all %d acknowledged events stored exactly once", acked)}
	})
	r.step(StageE2E, "flags")
	f := r.check(StageE2E, "e2e", "flags answered", func() result.Check { return r.flags(ctx) })
	return c.Status == result.Pass && f.Status == result.Pass && r.sdks(ctx)
}

// sdks drives the configured PostHog SDKs (suites/e2e/sdk) and adds one
// check per SDK release.
func (r *runner) sdks(ctx context.Context) bool {
	names := r.cfg.Stages.E2E.SDKs
	if len(names) == 0 {
		return true
	}
	specs, err := sdk.ParseSpecs(strings.Join(names, ",")) // checked by withDefaults
	if err != nil {
		r.check(StageE2E, "sdk", "SDK conformance", func() result.Check { return result.Check{Status: result.Error, Summary: err.Error()} })
		return false
	}
	conn, err := r.clickhouse(ctx)
	if err != nil {
		r.check(StageE2E, "sdk", "SDK conformance", func() result.Check { return result.Check{Status: result.Error, Summary: err.Error()} })
		return false
	}
	opts := sdk.Options{Target: r.t.CaptureURL, Token: r.t.Token, ClickHouse: conn, Database: r.t.Database, SDKs: specs, Events: 50,
		Wait: time.Duration(r.cfg.Stages.E2E.Wait), Progress: func(s string) { r.step(StageE2E, s) }}
	note := ""
	if r.t.Postgres != "" {
		pool, err := pgxpool.New(ctx, r.t.Postgres)
		if err != nil {
			r.check(StageE2E, "sdk", "SDK conformance", func() result.Check {
				return result.Check{Status: result.Error, Summary: fmt.Sprintf("the deployment's PostgreSQL: %v", err)}
			})
			return false
		}
		defer pool.Close()
		opts.Postgres = pool
	} else {
		note = " (flags not checked: the deployment's PostgreSQL is not known; pass --state)"
	}
	began := time.Now()
	res, err := sdk.Run(ctx, opts)
	if res == nil {
		r.check(StageE2E, "sdk", "SDK conformance", func() result.Check { return result.Check{Status: result.Error, Summary: err.Error()} })
		return false
	}
	ok := err == nil
	for _, s := range res.SDKs {
		c := result.Check{Stage: StageE2E, Layer: "sdk", Name: "SDK posthog-" + s.SDK, Duration: s.Duration, Status: result.Pass,
			Measurements: []result.Measurement{
				{Name: "delivered", Value: float64(s.Sent), Unit: "events", Pass: true},
				{Name: "lost", Value: float64(len(s.Missing)), Unit: "events", Limit: "= 0", Pass: len(s.Missing) == 0},
			}}
		passed, failed, notRun := 0, 0, 0
		for _, ck := range s.Checks {
			switch ck.Status {
			case sdk.Pass:
				passed++
			case sdk.NotRun:
				notRun++
			default:
				failed++
				c.Evidence = append(c.Evidence, fmt.Sprintf("%s: %s: %s", ck.Name, ck.Status, ck.Detail))
			}
		}
		c.Summary = fmt.Sprintf("%d checks passed, %d failed, %d not run%s", passed, failed, notRun, note)
		if s.Failed() {
			c.Status = result.Fail
			ok = false
		}
		r.rep.Add(c)
	}
	if err != nil {
		r.rep.Add(result.Check{Stage: StageE2E, Layer: "sdk", Name: "SDK conformance", Status: result.Error, Summary: err.Error(), Duration: time.Since(began)})
	}
	return ok
}

// flags asks /flags (v=2, current SDKs) and /decide (v=3, older ones) for a
// person's flags, as posthog-js does, and requires a flags map without errors.
func (r *runner) flags(ctx context.Context) result.Check {
	base := strings.TrimRight(r.t.CaptureURL, "/")
	body, _ := json.Marshal(map[string]any{"token": r.t.Token, "distinct_id": fmt.Sprintf("shakedown-gate-%d", r.opts.Seed)})
	var evidence []string
	for _, ep := range []struct{ path, key string }{{"/flags/?v=2", "flags"}, {"/decide/?v=3", "featureFlags"}} {
		reqCtx, cancel := context.WithTimeout(ctx, httpTimeout)
		req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, base+ep.path, bytes.NewReader(body))
		if err != nil {
			cancel()
			return result.Check{Status: result.Error, Summary: err.Error()}
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("POST %s: %v", ep.path, err)}
		}
		reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel()
		var parsed map[string]json.RawMessage
		if resp.StatusCode != http.StatusOK || json.Unmarshal(reply, &parsed) != nil {
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("POST %s answered %d", ep.path, resp.StatusCode), Evidence: []string{snippet(string(reply))}}
		}
		if _, ok := parsed[ep.key]; !ok {
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("POST %s answered without %q: SDKs would see no flags", ep.path, ep.key), Evidence: []string{snippet(string(reply))}}
		}
		if string(parsed["errorsWhileComputingFlags"]) == "true" {
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("POST %s: errorsWhileComputingFlags is true", ep.path), Evidence: []string{snippet(string(reply))}}
		}
		evidence = append(evidence, fmt.Sprintf("%s: 200 with %q", ep.path, ep.key))
	}
	return result.Check{Status: result.Pass, Summary: "/flags (v=2) and /decide (v=3) answered a person's flags", Evidence: evidence}
}

// statuses formats status counts as "200×40 503×2".
func statuses(m map[int]int) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d×%d", c, m[c])
	}
	return strings.Join(parts, " ")
}
