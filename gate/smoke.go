package gate

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/result"
)

// httpTimeout bounds each single request of the smoke and e2e stages.
const httpTimeout = 10 * time.Second

// get fetches url and returns its status and up to 1 MiB of its body.
func get(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// smoke checks liveness, readiness, the metrics ingestion is watched by, and
// that the event store answers. It reports whether the deployment is up.
func (r *runner) smoke(ctx context.Context) bool {
	base := strings.TrimRight(r.t.CaptureURL, "/")
	up := true
	for _, probe := range []struct{ name, path string }{{"liveness", "/_liveness"}, {"readiness", "/_readiness"}} {
		r.step(StageSmoke, probe.name)
		c := r.check(StageSmoke, "smoke", probe.name, func() result.Check {
			code, body, err := get(ctx, base+probe.path)
			switch {
			case err != nil:
				return result.Check{Status: result.Fail, Summary: fmt.Sprintf("GET %s: %v", probe.path, err),
					Evidence: []string{"is the capture API running at " + base + "?"}}
			case code != http.StatusOK:
				return result.Check{Status: result.Fail, Summary: fmt.Sprintf("GET %s answered %d", probe.path, code), Evidence: []string{snippet(body)}}
			}
			return result.Check{Status: result.Pass, Summary: fmt.Sprintf("GET %s answered 200", probe.path)}
		})
		up = up && c.Status == result.Pass
	}
	r.step(StageSmoke, "metrics")
	r.check(StageSmoke, "smoke", "ingestion metrics exposed", func() result.Check {
		code, body, err := get(ctx, base+"/metrics")
		if err != nil || code != http.StatusOK {
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("GET /metrics: status %d, %v", code, err)}
		}
		var missing []string
		for _, series := range r.cfg.Stages.Smoke.Metrics {
			if !hasSeries(body, series) {
				missing = append(missing, series)
			}
		}
		if len(missing) > 0 {
			return result.Check{Status: result.Fail, Summary: fmt.Sprintf("/metrics lacks %d of %d series: %s", len(missing), len(r.cfg.Stages.Smoke.Metrics), strings.Join(missing, ", ")),
				Evidence: []string{"dashboards and alerts on ingestion need these series; check the metric names in the gate file"}}
		}
		return result.Check{Status: result.Pass, Summary: fmt.Sprintf("all %d series present", len(r.cfg.Stages.Smoke.Metrics))}
	})
	r.step(StageSmoke, "event store")
	c := r.check(StageSmoke, "smoke", "event store answers", func() result.Check {
		began := time.Now()
		if _, err := r.clickhouse(ctx); err != nil {
			return result.Check{Status: result.Fail, Summary: err.Error(), Evidence: []string{"events acknowledged now could not be stored until it is back"}}
		}
		return result.Check{Status: result.Pass, Summary: fmt.Sprintf("ClickHouse %s answered a ping", r.t.ClickHouse),
			Measurements: []result.Measurement{{Name: "ping", Value: float64(time.Since(began).Microseconds()) / 1000, Unit: "ms", Pass: true}}}
	})
	return up && c.Status == result.Pass
}

// hasSeries tells whether a Prometheus text exposition has a sample of series.
func hasSeries(exposition, series string) bool {
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, series); ok && (strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, " ")) {
			return true
		}
	}
	return false
}

// snippet shortens a reply body for evidence.
func snippet(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		return "(empty reply)"
	}
	return s
}
