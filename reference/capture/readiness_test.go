package capture

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadinessNamesFailingDependency: /_readiness answers 503 naming the failing
// dependency, 200 once it works again, and checks at most once per ReadinessCacheTTL.
func TestReadinessNamesFailingDependency(t *testing.T) {
	var calls atomic.Int64
	var broken atomic.Bool
	broken.Store(true)
	e := newEnv(t, func(c *Config) {
		c.Dependencies = []Dependency{
			{Name: "postgres (token store)", Check: func(context.Context) error {
				calls.Add(1)
				if broken.Load() {
					return errors.New("connection refused")
				}
				return nil
			}},
			{Name: "clickhouse", Check: func(context.Context) error { return nil }},
		}
	})
	probe := func() (int, readinessReport, http.Header) {
		w := e.do(newRequest("GET", "/_readiness", "", nil))
		var rep readinessReport
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
			t.Fatalf("readiness body %q: %v", w.Body, err)
		}
		return w.Code, rep, w.Header()
	}
	code, rep, h := probe()
	if code != http.StatusServiceUnavailable || rep.Failing["postgres (token store)"] != "connection refused" ||
		len(rep.Failing) != 1 || rep.Checks["kafka"] != "ok" || rep.Checks["clickhouse"] != "ok" || h.Get("Retry-After") == "" {
		t.Fatalf("readiness with the token store down: %d %+v %v", code, rep, h)
	}
	for i := 0; i < 50; i++ {
		probe()
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("51 probes within the cache TTL checked the dependency %d times, want 1", n)
	}
	broken.Store(false)
	if code, rep, _ := probe(); code != http.StatusServiceUnavailable {
		t.Fatalf("cached answer changed before the TTL: %d %+v", code, rep)
	}
	time.Sleep(ReadinessCacheTTL)
	if code, rep, _ := probe(); code != http.StatusOK || rep.Status != "ok" || len(rep.Failing) != 0 {
		t.Fatalf("readiness with everything up: %d %+v", code, rep)
	}
	if w := e.do(newRequest("GET", "/_liveness", "", nil)); w.Code != http.StatusOK {
		t.Fatalf("liveness must not depend on dependencies: %d", w.Code)
	}
}
