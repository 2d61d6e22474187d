package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

func TestBaselineAlternatesAndTakesMedians(t *testing.T) {
	var mu sync.Mutex
	paths := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.URL.Path]++
		mu.Unlock()
		w.Write([]byte(`{"status":1}`))
	}))
	defer srv.Close()
	var seen []string
	res, err := Baseline(context.Background(), BaselineOptions{
		Traffic:  traffic.Options{BaseURL: srv.URL, Token: "phc_test", Seed: 3},
		Runs:     3,
		Duration: 200 * time.Millisecond,
		Rate:     500,
		Pause:    -1,
		Warmup:   -1,
		Progress: func(run int, side string, a BaselineAttack) { seen = append(seen, side) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 3 || len(seen) != 9 {
		t.Fatalf("%d runs, %d attacks, want 3 and 9", len(res.Runs), len(seen))
	}
	forward := []string{SideBare, SideReplay, SideRealistic}
	for i, r := range res.Runs {
		want := slices.Clone(forward)
		if i%2 == 1 {
			slices.Reverse(want)
		}
		if !slices.Equal(r.Order, want) {
			t.Errorf("run %d order %v, want %v", i, r.Order, want)
		}
		for side, a := range map[string]BaselineAttack{SideBare: r.Bare, SideReplay: r.Replay, SideRealistic: r.Realistic} {
			// 500/s for 0.2 s: about 100 requests, all answered.
			if a.Success < 50 || a.Success != a.Requests || a.Rate != float64(a.Success)/0.2 {
				t.Errorf("run %d %s: %+v", i, side, a)
			}
		}
		if r.Ratio != r.Realistic.Rate/r.Bare.Rate || r.ReplayRatio != r.Realistic.Rate/r.Replay.Rate {
			t.Errorf("run %d ratios %v %v", i, r.Ratio, r.ReplayRatio)
		}
	}
	if res.MedianRatio == 0 || res.MedianBare == 0 || res.MedianReplayRatio == 0 {
		t.Errorf("medians missing: %+v", res)
	}
	if res.StaticBytes == 0 || res.StaticEvents == 0 || res.MeanEvents < 3 || res.StaticMethod != http.MethodPost {
		t.Errorf("static body %s %s %d bytes %d events; stream %.0f bytes %.1f events", res.StaticMethod, res.StaticURL, res.StaticBytes, res.StaticEvents, res.MeanBytes, res.MeanEvents)
	}
	if kind, _ := traffic.Classify(res.StaticMethod, res.StaticURL); kind != traffic.Array {
		t.Errorf("static body goes to %s, want an array to /e/", res.StaticURL)
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
