package loadgen

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

func TestBaselineAlternatesAndTakesMedians(t *testing.T) {
	var (
		mu     sync.Mutex
		paths  = map[string]int{}
		bodies = map[[32]byte]bool{}
		// Event requests and how many of them were new, since the last attack.
		events, fresh int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		paths[r.URL.Path]++
		if r.URL.Path != "/decide/" {
			sum := sha256.Sum256(append([]byte(r.URL.RawQuery), body...))
			events++
			if !bodies[sum] {
				fresh++
			}
			bodies[sum] = true
		}
		w.Write([]byte(`{"status":1}`))
	}))
	defer srv.Close()
	var seen []string
	type counts struct{ events, fresh int }
	perAttack := map[string][]counts{}
	res, err := Baseline(context.Background(), BaselineOptions{
		Traffic:  traffic.Options{BaseURL: srv.URL, Token: "phc_test", Seed: 3},
		Runs:     3,
		Duration: 200 * time.Millisecond,
		Rate:     500,
		Pause:    -1,
		Warmup:   -1,
		Progress: func(run int, side string, a BaselineAttack) {
			seen = append(seen, side)
			mu.Lock()
			defer mu.Unlock()
			perAttack[side] = append(perAttack[side], counts{events, fresh})
			events, fresh = 0, 0
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 3 || len(seen) != 12 {
		t.Fatalf("%d runs, %d attacks, want 3 and 12", len(res.Runs), len(seen))
	}
	forward := []string{SideBare, SidePrebuilt, SideRealistic, SideLive}
	for i, r := range res.Runs {
		want := slices.Clone(forward)
		if i%2 == 1 {
			slices.Reverse(want)
		}
		if !slices.Equal(r.Order, want) {
			t.Errorf("run %d order %v, want %v", i, r.Order, want)
		}
		for side, a := range map[string]BaselineAttack{SideBare: r.Bare, SidePrebuilt: r.Prebuilt, SideRealistic: r.Realistic, SideLive: r.Live} {
			// 500/s for 0.2 s: about 100 requests, all answered.
			if a.Success < 50 || a.Success != a.Requests || a.Rate != float64(a.Success)/0.2 {
				t.Errorf("run %d %s: %+v", i, side, a)
			}
		}
		if r.Ratio != r.Realistic.Rate/r.Bare.Rate || r.PrebuiltRatio != r.Realistic.Rate/r.Prebuilt.Rate || r.LiveRatio != r.Live.Rate/r.Bare.Rate {
			t.Errorf("run %d ratios %v %v %v", i, r.Ratio, r.PrebuiltRatio, r.LiveRatio)
		}
	}
	// The bare side repeats a few bodies; the prebuilt and realistic sides send
	// new events only, the prebuilt side having built them all beforehand.
	for side, attacks := range perAttack {
		for i, c := range attacks {
			bad := c.events == 0 || c.fresh != c.events // every event new
			if side == SideBare {
				bad = c.events == 0 || c.fresh > len(res.Statics) // the same few bodies again and again
			}
			if bad {
				t.Errorf("%s attack %d: %d of %d event requests new", side, i, c.fresh, c.events)
			}
		}
	}
	for i, r := range res.Runs {
		if r.Prebuilt.Built < DefaultBaselineSample || r.Prebuilt.Repeated != 0 || r.Bare.Built != 0 {
			t.Errorf("run %d: prebuilt built %d, repeated %d; bare built %d", i, r.Prebuilt.Built, r.Prebuilt.Repeated, r.Bare.Built)
		}
		// The realistic side sends what was built before it; the live side builds all.
		if r.Realistic.Built < DefaultBaselineSample || r.Realistic.BuiltDuring != 0 || r.Live.Built != 0 || r.Live.BuiltDuring != r.Live.Requests {
			t.Errorf("run %d: realistic built %d before, %d during; live built %d before, %d during of %d", i,
				r.Realistic.Built, r.Realistic.BuiltDuring, r.Live.Built, r.Live.BuiltDuring, r.Live.Requests)
		}
	}
	if res.MedianRatio == 0 || res.MedianBare == 0 || res.MedianPrebuiltRatio == 0 || res.MedianLiveRatio == 0 {
		t.Errorf("medians missing: %+v", res)
	}
	// The bare side sends one static request per shape of the stream, in its
	// mix: about the stream's mean size and events, every kind present.
	if len(res.Statics) < 8 || res.MeanEvents < 3 ||
		math.Abs(res.StaticMeanEvents-res.MeanEvents) > 0.15*res.MeanEvents || math.Abs(res.StaticMeanBytes-res.MeanBytes) > 0.25*res.MeanBytes {
		t.Errorf("bare side: %d statics, mean %.0f bytes %.1f events; stream %.0f bytes %.1f events", len(res.Statics), res.StaticMeanBytes, res.StaticMeanEvents, res.MeanBytes, res.MeanEvents)
	}
	kinds, share := map[traffic.Kind]bool{}, 0.0
	for i, st := range res.Statics {
		kinds[st.Kind] = true
		share += st.Share
		if i > 0 && st.Share > res.Statics[i-1].Share {
			t.Errorf("statics not sorted by share: %+v", res.Statics)
		}
		if kind, enc := traffic.Classify(st.Method, st.URL); kind != st.Kind || enc != st.Encoding {
			t.Errorf("static %s %s classified %s %s, want %s %s", st.Method, st.URL, kind, enc, st.Kind, st.Encoding)
		}
	}
	if len(kinds) != len(traffic.Kinds()) || math.Abs(share-1) > 1e-9 {
		t.Errorf("statics cover kinds %v with shares summing to %v", kinds, share)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range []string{"/e/", "/i/v0/e/", "/batch/", "/decide/"} {
		if paths[p] == 0 {
			t.Errorf("no request to %s: %v", p, paths)
		}
	}
}

func TestBaselineRejectsBadOptions(t *testing.T) {
	for _, o := range []BaselineOptions{
		{},
		{Traffic: traffic.Options{BaseURL: "http://x", Token: "t"}, Runs: -1},
		{Traffic: traffic.Options{BaseURL: "http://x", Token: "t"}, Rate: 0.5},
	} {
		if _, err := Baseline(context.Background(), o); !errors.Is(err, ErrInvalidBaselineOptions) {
			t.Errorf("Baseline(%+v) = %v, want ErrInvalidBaselineOptions", o, err)
		}
	}
	_, err := Baseline(context.Background(), BaselineOptions{Traffic: traffic.Options{BaseURL: "http://x", Token: "t", ZipfS: 0.5}})
	if !errors.Is(err, traffic.ErrInvalidOptions) {
		t.Errorf("bad traffic options: %v, want traffic.ErrInvalidOptions", err)
	}
}
