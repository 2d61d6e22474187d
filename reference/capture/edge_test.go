package capture

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/reference/edge"
)

// waitCharged waits until s's in-flight budget holds at least n bytes.
func waitCharged(t testing.TB, s *Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.inFlight.mu.Lock()
		used := s.inFlight.used
		s.inFlight.mu.Unlock()
		if used >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the in-flight budget holds %d bytes, want at least %d", used, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCORSPolicies(t *testing.T) {
	const listed, other = "https://app.example.com", "https://evil.example"
	type allow struct{ origin, credentials string }
	none := allow{}
	for _, tc := range []struct {
		name    string
		policy  edge.CORS
		byOrign map[string]allow
	}{
		{"default: any origin, no credentials", edge.CORS{}, map[string]allow{
			listed: {"*", ""}, other: {"*", ""}, "null": {"*", ""},
		}},
		{"allow-list", edge.CORS{Origins: []string{listed}}, map[string]allow{
			listed: {listed, "true"}, other: none, "null": none,
		}},
		{"reflect any (PostHog)", edge.CORS{Origins: []string{edge.AnyOrigin}}, map[string]allow{
			listed: {listed, "true"}, other: {other, "true"}, "null": none,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.CORS = tc.policy })
			for origin, want := range tc.byOrign {
				for _, method := range []string{http.MethodPost, http.MethodOptions} {
					var r *http.Request
					if method == http.MethodPost {
						r = newRequest(method, "/batch", "application/json", []byte("["+ev("c", "cors", tokenA, nil)+"]"))
					} else {
						r = newRequest(method, "/batch", "", nil)
						r.Header.Set("Access-Control-Request-Method", "POST")
					}
					r.Header.Set("Origin", origin)
					w := e.do(r)
					h := w.Header()
					if got := (allow{h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials")}); got != want {
						t.Errorf("%s from %s: allow-origin %q credentials %q, want %q %q", method, origin, got.origin, got.credentials, want.origin, want.credentials)
					}
					if want.origin != "" && h.Get("Access-Control-Expose-Headers") != "Retry-After" {
						t.Errorf("%s from %s: Retry-After not exposed: %v", method, origin, h)
					}
					if method == http.MethodOptions && want.origin != "" && h.Get("Access-Control-Max-Age") != "600" {
						t.Errorf("preflight from %s: max-age %q, want 600", origin, h.Get("Access-Control-Max-Age"))
					}
					if want.origin != "" && want.origin != "*" && !slices.Contains(h.Values("Vary"), "Origin") {
						t.Errorf("%s from %s: a reflected origin needs Vary: Origin: %v", method, origin, h)
					}
				}
			}
			for _, path := range []string{"/metrics", "/_liveness", "/_readiness"} {
				r := newRequest(http.MethodGet, path, "", nil)
				r.Header.Set("Origin", listed)
				for k := range e.do(r).Header() {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("%s answers with %s: no CORS on metrics and health", path, k)
					}
				}
			}
		})
	}
}

// X-Forwarded-For names the client only when the peer is a trusted proxy, and then
// its right-most untrusted hop is the client.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	proxies, err := edge.ParseProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.TrustedProxies = proxies })
	e.startConsumer()
	for _, tc := range []struct{ id, peer, xff, want string }{
		{"xff-untrusted", "192.0.2.7:1", "6.6.6.6", "192.0.2.7"},
		{"xff-trusted", "10.1.2.3:1", "6.6.6.6, 203.0.113.5", "203.0.113.5"},
		{"xff-two-proxies", "10.1.2.3:1", "6.6.6.6, 203.0.113.5, 10.9.9.9", "203.0.113.5"},
		{"xff-none", "10.1.2.3:1", "", "10.1.2.3"},
	} {
		r := newRequest(http.MethodPost, "/e", "application/json", []byte(ev("x", tc.id, tokenA, nil)))
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		expectOK(t, e.do(r))
		if got := e.waitFor(tc.id)[tc.id].msg.IP; got != tc.want {
			t.Errorf("%s: stored ip %q, want %q", tc.id, got, tc.want)
		}
	}
}

// One client address cannot take the whole budget: past its share of bytes or of
// requests it gets 503, while another client is served.
func TestPerClientFairness(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxEventBody, c.MaxBatchBody, c.MaxInFlightBytes, c.MaxClientRequests = 4<<10, 16<<10, 64<<10, 2
	})
	pr, pw := io.Pipe()
	slow := httptest.NewRequest(http.MethodPost, "/batch", pr)
	slow.RemoteAddr = "192.0.2.7:1"
	slow.Header.Set("Content-Type", "application/json")
	slowDone := make(chan int, 1)
	go func() { slowDone <- e.do(slow).Code }()
	if _, err := pw.Write([]byte(`[` + strings.Repeat(" ", 16000))); err != nil {
		t.Fatal(err)
	}
	waitCharged(t, e.srv, 16001)
	w := e.post("/e", ev("x", "same-client", tokenA, map[string]any{"pad": strings.Repeat("x", 1000)})) // newRequest's peer is 192.0.2.7 too
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || decodeError(t, w).Code != "overloaded" {
		t.Fatalf("past the client's byte share: %d %s, want 503 overloaded", w.Code, w.Body)
	}
	other := newRequest(http.MethodPost, "/e", "application/json", []byte(ev("x", "other-client", tokenA, nil)))
	other.RemoteAddr = "198.51.100.9:1"
	expectOK(t, e.do(other))

	// A second request of the same client takes its last request slot; a third is refused.
	pr2, pw2 := io.Pipe()
	defer pw2.Close()
	second := httptest.NewRequest(http.MethodPost, "/batch", pr2)
	second.RemoteAddr = slow.RemoteAddr
	go e.do(second)
	if _, err := pw2.Write([]byte(`[`)); err != nil {
		t.Fatal(err)
	}
	if w := e.post("/batch", "[]"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "requests in flight") {
		t.Fatalf("past the client's requests: %d %s, want 503", w.Code, w.Body)
	}
	pw.Write([]byte(ev("x", "slow", tokenA, nil) + `]`))
	pw.Close()
	if code := <-slowDone; code != http.StatusOK {
		t.Fatalf("the slow batch got %d", code)
	}
}

// startEdge serves s through edge.NewServer on a loopback port.
func startEdge(t testing.TB, s http.Handler, to edge.Timeouts) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := edge.NewServer(s, to)
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// stall sends headers and one byte of a declared 20 MiB batch, then nothing, and
// returns the reply's first line and body and how long until the server closed.
func stall(addr string) (status, body string, took time.Duration, err error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", "", 0, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n[", 20<<20); err != nil {
		return "", "", 0, fmt.Errorf("write: %w", err)
	}
	rest, err := io.ReadAll(bufio.NewReader(c)) // until the server closes
	took = time.Since(start)
	status, body, _ = strings.Cut(string(rest), "\r\n")
	_, body, _ = strings.Cut(body, "\r\n\r\n")
	return status, body, took, err
}

func TestBodyTooSlowGets408(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBatchBody, c.MaxInFlightBytes = DefaultMaxBatchBody, DefaultMaxInFlightBytes })
	addr := startEdge(t, e.srv, edge.Timeouts{Body: 300 * time.Millisecond})
	status, body, took, err := stall(addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 408") || !strings.Contains(body, `"body_timeout"`) || !strings.Contains(body, "300ms") {
		t.Fatalf("stalled body: %q %s, want 408 body_timeout naming 300ms", status, body)
	}
	if took > 3*time.Second {
		t.Errorf("the server closed the stalled connection after %s, want about 300ms", took)
	}
}

// TestSlowClientFlood: 50 connections that send the headers and one byte of a
// declared 20 MiB batch and then stall (reconnecting when closed) do not starve 20
// clients sending small batches for 10 s, and are closed within the body timeout.
func TestSlowClientFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10 s flood")
	}
	const (
		stallers, good = 50, 20
		duration       = 10 * time.Second
		bodyTimeout    = 2 * time.Second
	)
	e := newEnv(t, func(c *Config) { c.MaxBatchBody, c.MaxInFlightBytes = DefaultMaxBatchBody, DefaultMaxInFlightBytes })
	addr := startEdge(t, e.srv, edge.Timeouts{Body: bodyTimeout})
	end := time.Now().Add(duration)

	var (
		mu         sync.Mutex
		latencies  []time.Duration
		refusals   []string
		closes     []time.Duration
		badReplies []string
		wg         sync.WaitGroup
	)
	for range stallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				status, body, took, err := stall(addr)
				mu.Lock()
				closes = append(closes, took)
				if err != nil || !strings.HasPrefix(status, "HTTP/1.1 408") {
					badReplies = append(badReplies, fmt.Sprintf("%q %s %v", status, body, err))
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // the stallers are in
	batch := "[" + strings.Repeat(ev("flood", "good", tokenA, nil)+",", 9) + ev("flood", "good", tokenA, nil) + "]"
	for range good {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			for time.Now().Before(end) {
				start := time.Now()
				resp, err := client.Post("http://"+addr+"/batch", "application/json", strings.NewReader(batch))
				var code int
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				took := time.Since(start)
				mu.Lock()
				latencies = append(latencies, took)
				if err != nil || code != http.StatusOK {
					refusals = append(refusals, fmt.Sprintf("%d %v", code, err))
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()

	slices.Sort(latencies)
	slices.Sort(closes)
	p := func(d []time.Duration, q float64) time.Duration { return d[min(len(d)-1, int(float64(len(d))*q))] }
	t.Logf("good requests %d: p50 %s p99 %s max %s; refusals %d", len(latencies), p(latencies, 0.5), p(latencies, 0.99), latencies[len(latencies)-1], len(refusals))
	if len(closes) > 0 {
		t.Logf("stalled connections %d: closed after p50 %s max %s (body timeout %s)", len(closes), p(closes, 0.5), closes[len(closes)-1], bodyTimeout)
	}
	if len(refusals) > 0 {
		t.Errorf("%d good requests refused, first: %s", len(refusals), refusals[0])
	}
	if p99 := p(latencies, 0.99); p99 >= 100*time.Millisecond {
		t.Errorf("good requests' p99 %s, want under 100ms", p99)
	}
	if len(badReplies) > 0 {
		t.Errorf("%d stalled connections did not get 408, first: %s", len(badReplies), badReplies[0])
	}
	// Closed within the body timeout, plus scheduling slack on a loaded machine.
	if len(closes) == 0 {
		t.Error("no stalled connection was closed")
	} else if worst := closes[len(closes)-1]; worst > bodyTimeout+time.Second {
		t.Errorf("a stalled connection stayed open %s, want at most the body timeout %s (+1s slack)", worst, bodyTimeout)
	}
}
