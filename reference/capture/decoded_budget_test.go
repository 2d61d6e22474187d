package capture

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodedBodyIsCharged: a small gzip body that inflates to many bytes is
// charged for what it decodes to, not for its wire size, so a client cannot
// pin gigabytes of memory with kilobytes of gzip. With 300 KB of a 1 MiB
// budget held by a slow request, a 20 KB gzip body decoding to 900 KB is
// refused with 503; one decoding to 100 KB passes.
func TestDecodedBodyIsCharged(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxEventBody, c.MaxBatchBody, c.MaxInFlightBytes, c.MaxClientBytes = 1<<20, 1<<20, 1<<20, 1<<20
	})
	pr, pw := io.Pipe()
	slow := httptest.NewRequest(http.MethodPost, "/batch", pr)
	slow.ContentLength = -1
	slow.RemoteAddr = "198.51.100.1:1"
	slowDone := make(chan int, 1)
	go func() { slowDone <- e.do(slow).Code }()
	if _, err := pw.Write([]byte(`[` + strings.Repeat(" ", 300<<10))); err != nil {
		t.Fatal(err)
	}
	waitCharged(t, e.srv, 300<<10+1)

	gz := func(n int) []byte {
		body := `{"api_key":"` + tokenA + `","batch":[{"event":"e","distinct_id":"d","properties":{"pad":"` + strings.Repeat("a", n) + `"}}]}`
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(body))
		w.Close()
		return b.Bytes()
	}
	big := gz(900 << 10)
	if len(big) > 20<<10 {
		t.Fatalf("the gzip body is %d bytes, want a small one", len(big))
	}
	r := e.do(newRequest(http.MethodPost, "/batch/?compression=gzip", "text/plain", big))
	if r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body.String(), "decodes to") {
		t.Errorf("a %d-byte gzip body decoding to 900 KB beside 300 KB in flight: %d %s; want 503 naming the decoded size", len(big), r.Code, r.Body)
	}
	if r := e.do(newRequest(http.MethodPost, "/batch/?compression=gzip", "text/plain", gz(100<<10))); r.Code != http.StatusOK {
		t.Errorf("a body decoding to 100 KB: %d %s; want 200", r.Code, r.Body)
	}
	pw.Write([]byte(ev("x", "slow", tokenA, nil) + `]`))
	pw.Close()
	if code := <-slowDone; code != http.StatusOK {
		t.Errorf("the slow batch got %d", code)
	}
}

func TestFairnessKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:192.0.2.7":     "::ffff:192.0.2.7",
		"not-an-address":       "not-an-address",
	} {
		if got := fairnessKey(ip); got != want {
			t.Errorf("fairnessKey(%q) = %q, want %q", ip, got, want)
		}
	}
}
