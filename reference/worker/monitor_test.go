package worker

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// outageProxy forwards TCP to a backend until it is cut: then it closes every open
// connection and refuses new ones, as a dead server would, until it is restored.
type outageProxy struct {
	l       net.Listener
	backend string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newOutageProxy(t *testing.T, backend string) *outageProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{l: l, backend: backend, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { l.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *outageProxy) addr() string { return p.l.Addr().String() }

func (p *outageProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *outageProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *outageProxy) serve(c net.Conn) {
	b, err := net.Dial("tcp", p.backend)
	if err != nil || !p.track(c, b) {
		c.Close()
		if b != nil {
			b.Close()
		}
		return
	}
	go func() { _, _ = io.Copy(b, c); b.Close() }()
	_, _ = io.Copy(c, b)
	c.Close()
}

func lagTotal(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "shakedown_worker_consumer_lag" {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestLagGrowsDuringClickHouseOutage cuts ClickHouse off while events arrive: the lag
// read from the broker counts them although nothing is inserted (a lag computed from
// fetched records would stay 0), ClickHouseErr names the outage, and once ClickHouse
// is back everything is inserted and the lag falls to 0.
func TestLagGrowsDuringClickHouseOutage(t *testing.T) {
	e := newEnv(t, 3)
	proxy := newOutageProxy(t, e.chAddr)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{proxy.addr()}, DialTimeout: time.Second,
		Auth: clickhouse.Auth{Username: shared.ch.User, Password: shared.ch.Password}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.ClickHouse, cfg.Registerer, cfg.LagInterval = conn, reg, 100*time.Millisecond
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	p := e.producer(t)
	e.produce(t, p, e.plainEvents(0, 10, 5)...)
	e.waitRows(t, 10, time.Minute)
	waitFor(t, 30*time.Second, "lag 0 with ClickHouse up", func() (bool, string) {
		n := lagTotal(t, reg)
		return n == 0 && w.ClickHouseErr() == nil, fmt.Sprintf("lag %v, clickhouse %v", n, w.ClickHouseErr())
	})

	proxy.setDown(true)
	e.produce(t, p, e.plainEvents(10, 300, 20)...)
	waitFor(t, 30*time.Second, "lag 300 during the outage", func() (bool, string) {
		n := lagTotal(t, reg)
		return n == 300, fmt.Sprintf("lag %v", n)
	})
	if err := w.ClickHouseErr(); err == nil {
		t.Error("ClickHouseErr is nil during the outage")
	}
	if n := counterValue(t, reg, "shakedown_worker_events_inserted_total"); n != 10 {
		t.Fatalf("inserted %v during the outage, want the 10 from before", n)
	}

	proxy.setDown(false)
	e.waitRows(t, 310, time.Minute)
	waitFor(t, 30*time.Second, "lag 0 after the outage", func() (bool, string) {
		n := lagTotal(t, reg)
		return n == 0 && w.ClickHouseErr() == nil, fmt.Sprintf("lag %v, clickhouse %v", n, w.ClickHouseErr())
	})
}
