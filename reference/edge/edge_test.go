package edge

import (
	"net/http/httptest"
	"testing"
)

func TestProxiesClientIP(t *testing.T) {
	p, err := ParseProxies("10.0.0.0/8, 192.168.1.1, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ peer, xff, want string }{
		{"192.0.2.7:1", "6.6.6.6", "192.0.2.7"},                // untrusted peer: XFF ignored
		{"10.1.2.3:1", "6.6.6.6, 203.0.113.5", "203.0.113.5"},  // right-most untrusted
		{"10.1.2.3:1", "203.0.113.5, 10.2.2.2", "203.0.113.5"}, // skips trusted hops
		{"192.168.1.1:1", "10.2.2.2, 10.3.3.3", "10.2.2.2"},    // all trusted: left-most
		{"10.1.2.3:1", "6.6.6.6, garbage", "10.1.2.3"},         // unparsable hop: the proxy that added it
		{"[fd00::1]:1", "2001:db8::1", "2001:db8::1"},          // IPv6
		{"10.1.2.3:1", "", "10.1.2.3"},                         // no header
		{"[::ffff:10.1.2.3]:1", "203.0.113.9", "203.0.113.9"},  // IPv4-mapped peer
		{"10.1.2.3:1", "203.0.113.5:4711", "203.0.113.5"},      // a hop written with its port
		{"10.1.2.3:1", "[2001:db8::7]:443", "2001:db8::7"},     // IPv6 with its port
		{"10.1.2.3:1", "[2001:db8::8]", "2001:db8::8"},         // IPv6 in brackets
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := p.ClientIP(r); got != tc.want {
			t.Errorf("peer %s XFF %q: %q, want %q", tc.peer, tc.xff, got, tc.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:1"
	r.Header.Set("X-Forwarded-For", "6.6.6.6")
	if got := Proxies(nil).ClientIP(r); got != "10.1.2.3" {
		t.Errorf("no trusted proxies: %q, want the peer", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		if _, err := ParseProxies(bad); err == nil {
			t.Errorf("ParseProxies(%q) accepted", bad)
		}
	}
}

func TestParseCORSOrigins(t *testing.T) {
	c, err := ParseCORSOrigins(" https://App.Example.com ,http://localhost:3000,*")
	if err != nil || len(c.Origins) != 3 || c.Origins[0] != "https://app.example.com" || c.Origins[2] != AnyOrigin {
		t.Fatalf("parsed %v, %v", c.Origins, err)
	}
	for _, bad := range []string{"app.example.com", "https://a.example/path", "ftp://a.example", "null"} {
		if _, err := ParseCORSOrigins(bad); err == nil {
			t.Errorf("ParseCORSOrigins(%q) accepted", bad)
		}
	}
}
