package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/loadgen/pace"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

func TestRunAttacksAndHoldsThresholds(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		time.Sleep(2 * time.Millisecond)
	}))
	defer srv.Close()
	rules, err := threshold.ParseAll([]string{"errors<1%", "p(95)<1us"})
	if err != nil {
		t.Fatal(err)
	}
	var observed, short atomic.Int64
	var logs []string
	res, err := Run(context.Background(), Options{Target: srv.URL, Token: "phc_x", Seed: 5,
		Pacer: pace.Spec{Kind: "constant", Rate: 100, Duration: 500 * time.Millisecond}, Thresholds: rules,
		Log: func(s string) { logs = append(logs, s) },
		Observe: func(r *vegeta.Result, intended time.Duration) {
			observed.Add(1)
			if intended < r.Latency {
				short.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Recorder.Summary()
	if s.Requests != 50 || hits.Load() != 50 || observed.Load() != 50 || short.Load() != 0 || res.Seed != 5 || res.Stopped != "" {
		t.Errorf("requests %d, hits %d, observed %d (%d with intended < actual latency), seed %d, stopped %q",
			s.Requests, hits.Load(), observed.Load(), short.Load(), res.Seed, res.Stopped)
	}
	if len(res.Thresholds) != 2 || !res.Thresholds[0].Pass || res.Thresholds[1].Pass || res.Passed() || res.AllFailed() {
		t.Errorf("thresholds %+v, passed %v", res.Thresholds, res.Passed())
	}
	if len(logs) == 0 || !strings.HasPrefix(logs[0], "built 50 requests before the attack in ") {
		t.Errorf("logs %q", logs)
	}
}

func TestRunStopsWithTheContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Options{Target: srv.URL, Token: "phc_x", Pacer: pace.Spec{Rate: 50}, PrebuildMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped == "" || res.Recorder.Summary().Requests == 0 || res.Seed == 0 {
		t.Errorf("stopped %q after %d requests, seed %d", res.Stopped, res.Recorder.Summary().Requests, res.Seed)
	}
}

func TestRunRefusesBadOptionsBeforeSending(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	for name, o := range map[string]Options{
		"no target": {Token: "t", Pacer: pace.Spec{Rate: 1, Duration: time.Second}},
		"bad pacer": {Target: srv.URL, Token: "t", Pacer: pace.Spec{Kind: "zigzag", Rate: 1, Duration: time.Second}},
		"zero rate": {Target: srv.URL, Token: "t", Pacer: pace.Spec{Rate: 0, Duration: time.Second}},
		"bad kind":  {Target: srv.URL, Token: "t", Pacer: pace.Spec{Rate: 1, Duration: time.Second}, Kinds: map[traffic.Kind]float64{"bogus": 1}},
	} {
		if _, err := Run(context.Background(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: %v, want ErrInvalidOptions", name, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("refused runs sent %d requests", hits.Load())
	}
}
