package traffic

import (
	"bytes"
	"context"
	"errors"
	"math"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/internal/phclient"
)

func newGen(t testing.TB, opts Options) *Generator {
	t.Helper()
	if opts.BaseURL == "" {
		opts.BaseURL = "http://127.0.0.1:1"
	}
	if opts.Token == "" {
		opts.Token = "phc_test"
	}
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSameSeedGivesIdenticalRequests(t *testing.T) {
	ctx := context.Background()
	a, b := newGen(t, Options{Seed: 7, SampleEvery: 10}), newGen(t, Options{Seed: 7, SampleEvery: 10})
	c := newGen(t, Options{Seed: 8})
	differ := 0
	for i := 0; i < 300; i++ {
		ta, err := a.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := b.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tc, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ta.Target.Equal(&tb.Target) || strings.Join(ta.UUIDs, ",") != strings.Join(tb.UUIDs, ",") {
			t.Fatalf("target %d differs for the same seed:\n%s %s %q\n%s %s %q", i, ta.Method, ta.URL, ta.Body, tb.Method, tb.URL, tb.Body)
		}
		if !bytes.Equal(ta.Body, tc.Body) || ta.URL != tc.URL {
			differ++
		}
	}
	if differ < 290 {
		t.Errorf("seeds 7 and 8 gave %d/300 different targets, want nearly all", differ)
	}
}

func TestConcurrentTargeterYieldsEachIndexOnce(t *testing.T) {
	ctx := context.Background()
	g := newGen(t, Options{Seed: 1})
	seen := sync.Map{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				tg, err := g.Next(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if _, dup := seen.LoadOrStore(tg.Index, true); dup {
					t.Errorf("index %d produced twice", tg.Index)
				}
				want, _ := newGen(t, Options{Seed: 1}).At(ctx, tg.Index)
				if !want.Target.Equal(&tg.Target) {
					t.Errorf("target %d depends on call order", tg.Index)
				}
			}
		}()
	}
	wg.Wait()
}

func TestMixProportions(t *testing.T) {
	ctx := context.Background()
	g := newGen(t, Options{Seed: 3, SampleEvery: 20})
	const n = 4000
	kinds := map[Kind]int{}
	encs := map[phclient.Encoding]int{}
	events, sampled, getOnBatch := 0, 0, 0
	for i := 0; i < n; i++ {
		tg, err := g.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kinds[tg.Kind]++
		encs[tg.Encoding]++
		events += len(tg.UUIDs)
		sampled += len(tg.Sampled)
		if tg.Kind == Decide && !strings.Contains(tg.URL, "/decide/?") || tg.Kind == Decide && !strings.Contains(tg.URL, "v=3") {
			t.Fatalf("decide URL %s lacks /decide/?v=3", tg.URL)
		}
		if tg.Encoding == phclient.GetData && (tg.Kind == Array || tg.Kind == Batch) {
			getOnBatch++
		}
	}
	for k, w := range DefaultKinds() {
		if got := float64(kinds[k]) / n; math.Abs(got-w) > 0.03 {
			t.Errorf("kind %s: share %.3f, want %.2f±0.03", k, got, w)
		}
	}
	// GET is only drawn for single events and decide calls; other encodings keep
	// their relative weights.
	gzip := float64(encs[phclient.GzipJS]) / n
	if gzip < 0.40 || gzip > 0.53 {
		t.Errorf("gzip-js share %.3f, want about 0.45-0.5", gzip)
	}
	if encs[phclient.GetData] == 0 || getOnBatch > 0 {
		t.Errorf("GET: %d targets, %d of them batches (want some, none batches)", encs[phclient.GetData], getOnBatch)
	}
	if share := float64(sampled) / float64(events); share < 0.03 || share > 0.07 {
		t.Errorf("sampled %d of %d events (%.3f), want about 1 in 20", sampled, events, share)
	}
	if mean := float64(events) / float64(kinds[Event]+kinds[Array]+kinds[Batch]); mean < 3 || mean > 8 {
		t.Errorf("mean events per capture request %.1f, want 3..8", mean)
	}
}

func TestCustomWeightsAndErrors(t *testing.T) {
	ctx := context.Background()
	g := newGen(t, Options{Kinds: map[Kind]float64{Decide: 1}, Encodings: map[phclient.Encoding]float64{phclient.LZ64Form: 1}})
	for i := 0; i < 20; i++ {
		tg, _ := g.Next(ctx)
		if tg.Kind != Decide || tg.Encoding != phclient.LZ64Form || len(tg.UUIDs) != 0 {
			t.Fatalf("target %d: %s %s %d uuids, want decide lz64 none", i, tg.Kind, tg.Encoding, len(tg.UUIDs))
		}
	}
	for _, o := range []Options{
		{BaseURL: "x", Token: "t", Kinds: map[Kind]float64{"bogus": 1}},
		{BaseURL: "x", Token: "t", Kinds: map[Kind]float64{Event: 0}},
		{BaseURL: "x", Token: "t", ZipfS: 0.5},
		{Token: "t"},
	} {
		if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(%+v) = %v, want an ErrInvalidOptions", o, err)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	ctx := context.Background()
	g := newGen(b, Options{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerate builds targets of the default mix on every core, as
// Targeter's builders do, and reports targets/s in all and per core.
//
//	go test ./loadgen/traffic -run XXX -bench Generate
func BenchmarkGenerate(b *testing.B) {
	ctx := context.Background()
	g := newGen(b, Options{Seed: 1})
	var bytes atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := g.Next(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			bytes.Add(int64(len(t.Body) + len(t.URL)))
		}
	})
	perSecond := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(perSecond, "targets/s")
	b.ReportMetric(perSecond/float64(runtime.GOMAXPROCS(0)), "targets/s/core")
	b.ReportMetric(float64(bytes.Load())/float64(b.N), "bytes/target")
}

// TestTargeterBuildsAhead takes targets through the Targeter, whose builders run
// ahead: every index comes once, the stream's first indices all come, each with
// the content At gives it, and observe sees each with its sampled uuids.
func TestTargeterBuildsAhead(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer waitGoroutines(t, before)
	defer cancel()
	g := newGen(t, Options{Seed: 6, SampleEvery: 5, Ahead: 64})
	ref := newGen(t, Options{Seed: 6, SampleEvery: 5})
	var seen []Target
	tr := g.Targeter(ctx, func(tg *Target) { seen = append(seen, *tg) })
	const n = 2000
	for i := 0; i < n; i++ {
		var vt vegeta.Target
		if err := tr(&vt); err != nil {
			t.Fatal(err)
		}
		if got := seen[len(seen)-1]; !got.Target.Equal(&vt) {
			t.Fatalf("observe saw %s, vegeta got %s", got.URL, vt.URL)
		}
	}
	indices := map[uint64]bool{}
	sampled := 0
	for _, tg := range seen {
		if indices[tg.Index] {
			t.Fatalf("index %d came twice", tg.Index)
		}
		indices[tg.Index] = true
		want, _ := ref.At(ctx, tg.Index)
		if !want.Target.Equal(&tg.Target) || strings.Join(want.Sampled, ",") != strings.Join(tg.Sampled, ",") {
			t.Fatalf("target %d from the builders differs from At(%d)", tg.Index, tg.Index)
		}
		sampled += len(tg.Sampled)
	}
	if sampled == 0 {
		t.Error("no sampled uuids came through the Targeter")
	}
	// At most the queue and the targets being built are left out.
	first := 0
	for i := uint64(0); i < n; i++ {
		if indices[i] {
			first++
		}
	}
	if slack := 64 + runtime.GOMAXPROCS(0); first < n-slack {
		t.Errorf("%d of the first %d indices came, want at least %d", first, n, n-slack)
	}
}

func TestTargeterBuildersStopWithTheContext(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	g := newGen(t, Options{Seed: 1, Ahead: 16})
	var vt vegeta.Target
	if err := g.Targeter(ctx, nil)(&vt); err != nil {
		t.Fatal(err)
	}
	if runtime.NumGoroutine() < before+runtime.GOMAXPROCS(0) {
		t.Errorf("%d goroutines after the first target, %d before: want GOMAXPROCS builders", runtime.NumGoroutine(), before)
	}
	cancel()
	waitGoroutines(t, before)
	// The Targeter still works, building on demand.
	if err := g.Targeter(ctx, nil)(&vt); err != nil || vt.URL == "" {
		t.Fatalf("Targeter after cancel: %v, %q", err, vt.URL)
	}
	waitGoroutines(t, before)
}

// waitGoroutines fails t unless the goroutines are back to n within 5 s.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 5 s after the context ended, %d before: the builders did not stop", runtime.NumGoroutine(), n)
		}
	}
}

func TestFirstStartsTheStreamLater(t *testing.T) {
	ctx := context.Background()
	a := newGen(t, Options{Seed: 3})
	b := newGen(t, Options{Seed: 3, First: 500})
	tb, _ := b.Next(ctx)
	ta, _ := a.At(ctx, 500)
	if tb.Index != 500 || !ta.Target.Equal(&tb.Target) {
		t.Fatalf("Next with First 500 gave index %d", tb.Index)
	}
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestEventsAreUnique(t *testing.T) {
	ctx := context.Background()
	g := newGen(t, Options{Seed: 8})
	uuids := map[string]bool{}
	stamps := map[string]bool{}
	for i := uint64(0); i < 3000; i++ {
		tg, _ := g.At(ctx, i)
		for _, u := range tg.UUIDs {
			if !uuid4.MatchString(u) {
				t.Fatalf("uuid %q is not a version 4 uuid", u)
			}
			if uuids[u] {
				t.Fatalf("uuid %s twice", u)
			}
			uuids[u] = true
		}
		stamps[tg.URL[strings.Index(tg.URL, "_="):][:15]] = true
	}
	if len(stamps) != 3000 {
		t.Errorf("%d distinct _= stamps among 3000 targets", len(stamps))
	}
}

func TestPoolRepeatsTargetsAndSamplesFirstPassOnly(t *testing.T) {
	ctx := context.Background()
	fresh := newGen(t, Options{Seed: 5, SampleEvery: 1})
	pooled := newGen(t, Options{Seed: 5, SampleEvery: 1, Pool: 16})
	if err := pooled.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 40; i++ {
		p, err := pooled.At(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := fresh.At(ctx, i%16)
		if !p.Target.Equal(&f.Target) || p.Index != i {
			t.Fatalf("pooled target %d is not fresh target %d", i, i%16)
		}
		if (i < 16) != (len(p.Sampled) > 0 || len(p.UUIDs) == 0) {
			t.Errorf("target %d: sampled %d of %d uuids", i, len(p.Sampled), len(p.UUIDs))
		}
	}
}

func TestPrebuildSendsTheSameStreamWithoutBuildersUntilItRunsLow(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer waitGoroutines(t, before)
	defer cancel()
	g := newGen(t, Options{Seed: 9, SampleEvery: 5, Ahead: 32, First: 100})
	ref := newGen(t, Options{Seed: 9, SampleEvery: 5})
	var reports []int
	n, err := g.Prebuild(ctx, 3000, 0, func(built int) { reports = append(reports, built) })
	if err != nil || n != 3000 {
		t.Fatalf("Prebuild = %d, %v; want 3000", n, err)
	}
	if len(reports) == 0 || reports[len(reports)-1] != 3000 {
		t.Errorf("progress reports %v, want the last to be 3000", reports)
	}
	var seen []Target
	tr := g.Targeter(ctx, func(tg *Target) { seen = append(seen, *tg) })
	var vt vegeta.Target
	for i := 0; i < 3000+500; i++ {
		if err := tr(&vt); err != nil {
			t.Fatal(err)
		}
		if i == 2000 && runtime.NumGoroutine() > before+1 {
			t.Errorf("%d goroutines while 1000 prebuilt targets are left, %d before: want no builders yet", runtime.NumGoroutine(), before)
		}
	}
	indices := map[uint64]bool{}
	for i, tg := range seen {
		if i < 3000 && tg.Index != uint64(100+i) {
			t.Fatalf("prebuilt target %d has index %d, want %d: prebuilt targets go out in order from First", i, tg.Index, 100+i)
		}
		if indices[tg.Index] {
			t.Fatalf("index %d came twice", tg.Index)
		}
		indices[tg.Index] = true
		want, _ := ref.At(ctx, tg.Index)
		if !want.Target.Equal(&tg.Target) || strings.Join(want.Sampled, ",") != strings.Join(tg.Sampled, ",") {
			t.Fatalf("target %d differs from At(%d)", tg.Index, tg.Index)
		}
	}
	for _, tg := range seen[3000:] {
		if tg.Index < 3100 {
			t.Fatalf("target %d after the prebuilt run repeats a prebuilt index", tg.Index)
		}
	}
}

func TestPrebuildStopsAtTheByteBound(t *testing.T) {
	g := newGen(t, Options{Seed: 2})
	n, err := g.Prebuild(context.Background(), 100_000, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := g.prebuilt.Load()
	var bytes int64
	for _, c := range run.chunks {
		for _, tg := range c {
			bytes += tg.memory()
		}
	}
	// Each worker may pass the bound by the target it was building.
	if n == 0 || n >= 100_000 || run.n != int64(n) || len(run.chunks) != (n+prebuiltChunk-1)/prebuiltChunk ||
		bytes < 1<<20 || bytes > 1<<20+int64(runtime.GOMAXPROCS(0))*512<<10 {
		t.Errorf("built %d targets of %d bytes, want about 1 MiB", n, bytes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newGen(t, Options{Seed: 2}).Prebuild(ctx, 1000, 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Prebuild with an ended context = %v, want context.Canceled", err)
	}
}
