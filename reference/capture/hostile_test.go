package capture

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hostileBody is one event of n properties, about 18 bytes each.
func hostileBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"event":"x","distinct_id":"d","properties":{"token":"` + tokenA + `"`)
	for i := range n {
		b.WriteString(`,"property_` + strconv.Itoa(i) + `":1`)
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

// TestHostileBodiesStayBounded sends 8 concurrent 18 MB single-event bodies of a
// million properties each to /batch (limit 20 MB) over HTTP and samples the heap: they
// must be refused with 413 within seconds, before being decoded into maps, with the
// heap staying well under 512 MB.
func TestHostileBodiesStayBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxEventBody, c.MaxBatchBody, c.MaxInFlightBytes = DefaultMaxEventBody, DefaultMaxBatchBody, DefaultMaxInFlightBytes
		c.MaxClientBytes = DefaultMaxInFlightBytes // all 8 come from one address; this test is not about fairness
	})
	srv := httptest.NewServer(e.srv)
	t.Cleanup(srv.Close)
	body := hostileBody(1_000_000)
	if len(body) < 17<<20 || len(body) > DefaultMaxBatchBody {
		t.Fatalf("body is %d bytes, want about 18 MB", len(body))
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	replies := make([]string, 8)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(srv.URL+"/batch", "application/json", bytes.NewReader(body))
			if err != nil {
				replies[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			replies[i] = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(b.String()))
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	<-sampled

	grew := float64(peak.Load()-min(base, peak.Load())) / (1 << 20)
	t.Logf("8 x %.1f MB bodies: refused in %s, heap in use %.0f MB at start, peak growth %.0f MB",
		float64(len(body))/(1<<20), took.Round(time.Millisecond), float64(base)/(1<<20), grew)
	for i, r := range replies {
		if !strings.HasPrefix(r, "413 ") || !strings.Contains(r, "too_many_properties") {
			t.Errorf("request %d: %.200s, want 413 too_many_properties", i, r)
		}
	}
	if took > 15*time.Second {
		t.Errorf("refusing took %s, want seconds", took)
	}
	if grew > 384 {
		t.Errorf("heap grew by %.0f MB, want well under 512 MB", grew)
	}
}

// TestShapeLimits checks each decoding limit's reply: too many keys in one object
// (413), too deep (400), one event of a batch too large (413), and that events just
// inside the limits land.
func TestShapeLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxProperties, c.MaxDepth = 50, 8 })
	props := func(n int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m["p"+strconv.Itoa(i)] = i
		}
		return m
	}
	nested := func(depth int) any {
		var v any = 1
		for range depth {
			v = map[string]any{"n": v}
		}
		return v
	}
	for _, tc := range []struct {
		name, path, body string
		want             int
		code             string
	}{
		{"keys at the limit", "/e", ev("x", "k50", tokenA, map[string]any{"properties": props(50)}), 200, ""},
		{"keys over the limit", "/e", ev("x", "k51", tokenA, map[string]any{"properties": props(51)}), 413, "too_many_properties"},
		{"depth at the limit", "/e", ev("x", "d", tokenA, map[string]any{"n": nested(7)}), 200, ""}, // the event is level 1
		{"depth over the limit", "/e", ev("x", "d", tokenA, map[string]any{"n": nested(8)}), 400, "too_deep"},
		{"batch over the limit", "/batch", `[` + ev("x", "b", tokenA, map[string]any{"n": nested(7)}) + `]`, 400, "too_deep"},
		{"event of a batch too large", "/batch", `[` + ev("x", "big", tokenA, map[string]any{"pad": strings.Repeat("x", 65<<10)}) + `]`, 413, "event_too_large"},
		{"properties a string", "/e", `{"event":"x","distinct_id":"s","api_key":"` + tokenA + `","properties":"{}"}`, 400, "invalid_properties"},
		{"properties an array", "/e", `{"event":"x","distinct_id":"s","api_key":"` + tokenA + `","properties":[]}`, 400, "invalid_properties"},
		{"properties null", "/e", `{"event":"x","distinct_id":"s","api_key":"` + tokenA + `","properties":null}`, 200, ""},
	} {
		w := e.post(tc.path, tc.body)
		if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.code) {
			t.Errorf("%s: %d %.200s, want %d %s", tc.name, w.Code, w.Body.String(), tc.want, tc.code)
		}
	}
}
