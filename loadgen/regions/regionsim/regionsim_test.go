package regionsim

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/regions"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

func TestParseRegions(t *testing.T) {
	got, err := ParseRegions(" eu=20ms, us=80ms±10ms/1.5% ,ap=0s, sa=30ms+-30ms,af=1ms/0%")
	if err != nil {
		t.Fatal(err)
	}
	want := []Region{
		{Name: "eu", Latency: 20 * time.Millisecond},
		{Name: "us", Latency: 80 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.015},
		{Name: "ap"},
		{Name: "sa", Latency: 30 * time.Millisecond, Jitter: 30 * time.Millisecond},
		{Name: "af", Latency: time.Millisecond},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("region %d = %v, want %v", i, got[i], want[i])
		}
	}
	if s := got[1].String(); s != "us=80ms±10ms/1.5%" {
		t.Errorf("String() = %q, want us=80ms±10ms/1.5%%", s)
	}
	for _, bad := range []string{"eu=20ms", "eu=20ms,eu=30ms", "eu=fast,us=1ms", "=1ms,us=2ms", "eu=1.5ms,us=2ms", "eu=-1ms,us=2ms",
		"eu=20ms±30ms,us=1ms", "eu=20ms±1.5ms,us=1ms", "eu=20ms±,us=1ms", "eu=20ms/1,us=1ms", "eu=20ms/100%,us=1ms", "eu=20ms/-1%,us=1ms", "eu=20ms/x%,us=1ms"} {
		if _, err := ParseRegions(bad); err == nil {
			t.Errorf("ParseRegions(%q) accepted, want an error", bad)
		}
	}
}

// The proxies add their region's latency to a round trip and nothing to another's.
func TestProxiesAddLatency(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	p, err := StartProxies(srv.URL, []Region{{Name: "near"}, {Name: "far", Latency: 40 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	median := func(url string) time.Duration {
		var ds []time.Duration
		for range 9 {
			start := time.Now()
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	near, far := median(p.Targets[0].URL), median(p.Targets[1].URL)
	if near > 15*time.Millisecond {
		t.Errorf("near proxy (no latency) took %s per request, want < 15ms", near)
	}
	if far < 40*time.Millisecond || far > 55*time.Millisecond {
		t.Errorf("far proxy (40ms) took %s per request, want 40–55ms", far)
	}
}

// Jitter spreads round trips over latency ± jitter; loss fails about its share of
// requests, which never reach the server.
func TestSimulatedRegionJitterAndLoss(t *testing.T) {
	var reached atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	p, err := StartProxies(srv.URL, []Region{
		{Name: "jittery", Latency: 30 * time.Millisecond, Jitter: 20 * time.Millisecond},
		{Name: "lossy", Latency: 0, Loss: 0.2},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	var ds []time.Duration
	for range 40 {
		start := time.Now()
		resp, err := client.Post(p.Targets[0].URL, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	// The 3rd fastest and 3rd slowest, so that a scheduling hiccup does not fail it.
	lo, hi := ds[2], ds[len(ds)-3]
	if lo < 10*time.Millisecond || hi > 60*time.Millisecond || hi-lo < 15*time.Millisecond {
		t.Errorf("30ms±20ms round trips ranged %s–%s (all: %v): want them spread within about 10–50ms", lo, hi, ds)
	}

	reached.Store(0)
	const sent = 300
	failed := 0
	for range sent {
		resp, err := client.Post(p.Targets[1].URL, "text/plain", strings.NewReader("x"))
		if err != nil {
			failed++
			continue
		}
		resp.Body.Close()
	}
	t.Logf("20%% loss: %d of %d requests failed, %d reached the server", failed, sent, reached.Load())
	if failed < 35 || failed > 90 {
		t.Errorf("%d of %d requests failed with 20%% loss: want about 60", failed, sent)
	}
	if int(reached.Load()) != sent-failed {
		t.Errorf("%d requests reached the server, want the %d that did not fail", reached.Load(), sent-failed)
	}
}

// The acceptance test: the real local stack behind eu=20ms and us=80ms proxies. The
// p50 difference is the injected 60 ms (±3 ms) and the verdict names eu as faster.
func TestSimulatedRegionsMeasureInjectedLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack (clickhouse-server, postgres)")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs, err := ParseRegions("eu=20ms,us=80ms")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Start(ctx, Options{Regions: rs})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sim.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	up := time.Since(began)

	gen, err := traffic.New(traffic.Options{BaseURL: sim.Targets[0].URL, Token: sim.Stack.Endpoints.Token, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	res, err := regions.Run(ctx, regions.Options{
		Targets: sim.Targets, Stream: gen.Targeter(ctx, nil),
		Rate: 60, Rounds: 330, Warmup: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	bench := res.End.Sub(res.Start)
	rep, err := regions.Analyze(res, regions.AnalyzeOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := regions.WriteText(&out, rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("stack up in %s, bench %s, total %s\n%s", up.Round(time.Millisecond), bench.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), out.String())

	for _, tr := range rep.Targets {
		if tr.Samples != 300 || tr.Errors != 0 {
			t.Errorf("%s: %d successful samples and %d errors (%v), want 300 and 0", tr.Name, tr.Samples, tr.Errors, tr.TopErrors)
		}
	}
	c, ok := rep.Comparison("eu", "us", 0.5)
	if !ok {
		t.Fatal("no eu/us comparison at p50")
	}
	diff := -c.Diff.Value // us − eu
	if d := diff - 60*time.Millisecond; d < -3*time.Millisecond || d > 3*time.Millisecond {
		t.Errorf("p50 difference us−eu = %s, want 60ms ± 3ms", diff)
	}
	if c.Faster() != 'a' || !strings.HasPrefix(c.Verdict, "eu has ") || !strings.Contains(c.Verdict, "lower latency than us at p50") || c.Method != regions.Paired {
		t.Errorf("verdict %q (faster=%q, %s bootstrap), want eu named as having lower latency than us at p50, paired", c.Verdict, c.Faster(), c.Method)
	}
	if lo, hi := -c.Diff.Hi, -c.Diff.Lo; lo > diff || hi < diff || hi-lo > 10*time.Millisecond {
		t.Errorf("p50 difference interval %s–%s around %s: want it to hold the estimate and be narrower than 10ms", lo, hi, diff)
	}
	if math.IsNaN(c.Ratio.Value) || c.Ratio.Hi >= 1 {
		t.Errorf("ratio eu/us %v, want an interval below 1", c.Ratio)
	}
	if bench > 15*time.Second {
		t.Errorf("benchmark took %s, want <= 15s", bench)
	}
}
