package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/reference/edge"
)

func TestConfigFromEnvEdgeSettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	base := map[string]string{"KAFKA_BROKERS": "k:9092", "POSTGRES_DSN": "x"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	cfg, err := ConfigFromEnv(env(base), Capture)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CORS.Origins) != 0 || len(cfg.TrustedProxies) != 0 || cfg.HTTP != (edge.Timeouts{}) {
		t.Errorf("defaults: CORS %v proxies %v timeouts %+v, want none (edge's defaults)", cfg.CORS, cfg.TrustedProxies, cfg.HTTP)
	}
	vars := with("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
	vars["CORS_ORIGINS"] = "https://App.example.com, http://localhost:3000"
	vars["HTTP_BODY_TIMEOUT"], vars["HTTP_IDLE_TIMEOUT"], vars["HTTP_READ_HEADER_TIMEOUT"], vars["HTTP_MIN_BODY_RATE"] = "3s", "30s", "5s", "1024"
	cfg, err = ConfigFromEnv(env(vars), Capture)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1].String() != "192.168.1.1/32" ||
		fmt.Sprint(cfg.CORS.Origins) != "[https://app.example.com http://localhost:3000]" ||
		cfg.HTTP != (edge.Timeouts{ReadHeader: 5 * time.Second, Idle: 30 * time.Second, Body: 3 * time.Second, MinBodyRate: 1024}) {
		t.Errorf("parsed proxies %v CORS %v timeouts %+v", cfg.TrustedProxies, cfg.CORS, cfg.HTTP)
	}
	vars = with("DECIDE_REFRESH_INTERVAL", "5s")
	if cfg, err = ConfigFromEnv(env(vars), Capture); err != nil || cfg.DecideRefresh != 5*time.Second {
		t.Errorf("DECIDE_REFRESH_INTERVAL=5s: %v, %v", cfg.DecideRefresh, err)
	}
	for k, v := range map[string]string{"DECIDE_REFRESH_INTERVAL": "0s", "TRUSTED_PROXIES": "10.0.0.0/33", "CORS_ORIGINS": "app.example.com", "HTTP_BODY_TIMEOUT": "soon", "HTTP_MIN_BODY_RATE": "-1"} {
		if _, err := ConfigFromEnv(env(with(k, v)), Capture); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: error %v, want one naming %s", k, v, err, k)
		}
	}
}

// serveHTTP closes idle keep-alive connections and stalled bodies.
func TestServeHTTPTimeouts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
		}
	})
	go func() {
		done <- serveHTTP(ctx, addr, h, edge.Timeouts{Idle: 300 * time.Millisecond, Body: 300 * time.Millisecond}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { cancel(); <-done })
	var c net.Conn
	for range 100 {
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, send string }{
		{"idle keep-alive", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"stalled body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"},
	} {
		if tc.name != "idle keep-alive" {
			if c, err = net.Dial("tcp", addr); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, tc.send); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("%s: %v (the server did not close the connection)", tc.name, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: closed after %s, want about 300ms", tc.name, took)
		}
		c.Close()
	}
}
