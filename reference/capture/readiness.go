package capture

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Readiness timings.
const (
	// ReadinessCacheTTL is how long a /_readiness answer is reused, so that probes,
	// however frequent, cost each dependency at most one check per TTL.
	ReadinessCacheTTL = time.Second
	// readinessTimeout bounds each dependency's check.
	readinessTimeout = time.Second
)

// Dependency is something capture needs to store events, checked by /_readiness.
type Dependency struct {
	// Name names it in the readiness answer, e.g. "postgres (token store)".
	Name string
	// Check returns nil when the dependency works; it gets a context bounded to 1 s.
	Check func(ctx context.Context) error
}

// readinessReport is the /_readiness answer: status "ok" or "unavailable", the
// failing dependencies with their errors, and every dependency's state.
type readinessReport struct {
	Status  string            `json:"status"`
	Failing map[string]string `json:"failing,omitempty"`
	Checks  map[string]string `json:"checks"`
}

// readiness caches the last report for ReadinessCacheTTL; mu is held during a check,
// so concurrent probes wait for one check instead of starting their own.
type readiness struct {
	mu     sync.Mutex
	at     time.Time
	code   int
	report readinessReport
}

// serveReadiness answers 200 when Kafka and every Config.Dependencies check pass, and
// 503 naming the failing ones otherwise. Liveness (/_liveness) stays process-only.
func (s *Server) serveReadiness(w http.ResponseWriter, r *http.Request) {
	s.ready.mu.Lock()
	defer s.ready.mu.Unlock()
	if now := time.Now(); s.ready.at.IsZero() || now.Sub(s.ready.at) >= ReadinessCacheTTL {
		s.ready.code, s.ready.report = s.checkDependencies(r.Context())
		s.ready.at = time.Now()
	}
	if s.ready.code != http.StatusOK {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, s.ready.code, s.ready.report)
}

// checkDependencies runs the Kafka check and every Config.Dependencies check at once.
func (s *Server) checkDependencies(ctx context.Context) (int, readinessReport) {
	deps := append([]Dependency{{Name: "kafka", Check: s.client.Ping}}, s.cfg.Dependencies...)
	errs := make([]error, len(deps))
	var wg sync.WaitGroup
	for i, d := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readinessTimeout)
			defer cancel()
			errs[i] = d.Check(cctx)
		}()
	}
	wg.Wait()
	rep := readinessReport{Status: "ok", Checks: map[string]string{}}
	for i, d := range deps {
		if errs[i] == nil {
			rep.Checks[d.Name] = "ok"
			continue
		}
		if rep.Failing == nil {
			rep.Failing = map[string]string{}
		}
		rep.Status = "unavailable"
		rep.Checks[d.Name] = "failing"
		rep.Failing[d.Name] = errs[i].Error()
	}
	if rep.Failing != nil {
		return http.StatusServiceUnavailable, rep
	}
	return http.StatusOK, rep
}
