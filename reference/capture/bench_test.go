package capture

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// benchmarkCapture serves requests of perRequest events concurrently (each
// request waits for Kafka's acks, so concurrency is what fills batches) and
// reports events/s acknowledged.
func benchmarkCapture(b *testing.B, path string, perRequest int) {
	e := newEnv(b, func(c *Config) { c.MaxEventBody, c.MaxBatchBody = 2<<20, 20<<20 })
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		worker := seq.Add(1)
		events := make([]string, perRequest)
		for i := range events {
			events[i] = ev("$pageview", fmt.Sprintf("bench-%d-%d", worker, i), tokenA,
				map[string]any{"properties": map[string]any{"$current_url": "https://example.com/pricing", "$browser": "Firefox", "i": i}})
		}
		body := []byte(events[0])
		if perRequest > 1 {
			body = []byte(`{"api_key":"` + tokenA + `","batch":[` + strings.Join(events, ",") + `]}`)
		}
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*perRequest)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkSingleEvent(b *testing.B) { benchmarkCapture(b, "/e", 1) }

func BenchmarkBatch100(b *testing.B) { benchmarkCapture(b, "/batch", 100) }
