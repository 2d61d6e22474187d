package traffic

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync"
	"testing"

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
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted bad options", o)
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
