package regionsim

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/regions"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

func TestParseRegions(t *testing.T) {
	got, err := ParseRegions(" eu=20ms, us=80ms ,ap=0s")
	if err != nil {
		t.Fatal(err)
	}
	want := []Region{{"eu", 20 * time.Millisecond}, {"us", 80 * time.Millisecond}, {"ap", 0}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("region %d = %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"eu=20ms", "eu=20ms,eu=30ms", "eu=fast,us=1ms", "=1ms,us=2ms", "eu=1.5ms,us=2ms", "eu=-1ms,us=2ms"} {
		if _, err := ParseRegions(bad); err == nil {
			t.Errorf("ParseRegions(%q) accepted, want an error", bad)
		}
	}
}

// The proxies add their region's latency to a round trip and nothing to another's.
func TestProxiesAddLatency(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	p, err := StartProxies(srv.URL, []Region{{"near", 0}, {"far", 40 * time.Millisecond}})
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
	if c.Faster() != 'a' || !strings.HasPrefix(c.Verdict, "eu is ") || !strings.Contains(c.Verdict, "faster than us at p50") {
		t.Errorf("verdict %q (faster=%q), want eu named faster than us at p50", c.Verdict, c.Faster())
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
