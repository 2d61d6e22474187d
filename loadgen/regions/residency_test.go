package regions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

// memStore is an EventStore holding a fixed set of uuids.
type memStore struct {
	mu   sync.Mutex
	have map[string]bool
}

func newMemStore(uuids ...string) *memStore {
	s := &memStore{have: map[string]bool{}}
	s.add(uuids...)
	return s
}

func (s *memStore) add(uuids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range uuids {
		s.have[u] = true
	}
}

func (s *memStore) Stored(_ context.Context, uuids []string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, u := range uuids {
		if s.have[u] {
			out = append(out, u)
		}
	}
	return out, nil
}

func trackedResult(events map[string]TargetEvents) Result {
	var res Result
	for _, name := range []string{"eu", "us"} {
		res.Targets = append(res.Targets, TargetResult{Target: Target{Name: name, URL: "http://" + name + ".test"}, Events: events[name]})
	}
	return res
}

func TestRegionsResidencyFindsMisplacedAndMissingEvents(t *testing.T) {
	res := trackedResult(map[string]TargetEvents{
		"eu": {Acked: []string{"e1", "e2", "e3"}, Unacked: []string{"e4"}},
		"us": {Acked: []string{"u1", "u2"}},
	})
	// Late arrivals are waited for.
	eu, us := newMemStore("e1", "e2"), newMemStore("u1", "u2")
	time.AfterFunc(150*time.Millisecond, func() { eu.add("e3") })
	r, err := CheckResidency(context.Background(), res, ResidencyOptions{Stores: map[string]EventStore{"eu": eu, "us": us}, Timeout: 5 * time.Second, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Passed || r.Regions[0].Stored != 3 || r.Regions[0].Unacked != 1 || len(r.Violations()) != 0 {
		t.Errorf("residency %+v: want a pass with eu's 3 acknowledged events stored", r)
	}

	// An eu event (even an unacknowledged one) in us's store, and a us event that never arrives.
	eu, us = newMemStore("e1", "e2", "e3"), newMemStore("u1", "e4", "e2")
	r, err = CheckResidency(context.Background(), res, ResidencyOptions{Stores: map[string]EventStore{"eu": eu, "us": us}, Timeout: 100 * time.Millisecond, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	v := strings.Join(r.Violations(), "\n")
	if r.Passed || !strings.Contains(v, "2 of the 4 events sent to eu were found in us's store (e.g. e2, e4)") ||
		!strings.Contains(v, "1 of the 2 events us acknowledged are missing from us's store") || !strings.Contains(v, "(e.g. u2)") {
		t.Errorf("violations:\n%s\nwant eu's events in us and us's missing u2", v)
	}

	// A region without a store is still looked for elsewhere.
	r, err = CheckResidency(context.Background(), res, ResidencyOptions{Stores: map[string]EventStore{"us": us}, Timeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Regions[0].Checked || len(r.Regions[0].Elsewhere) != 1 || r.Passed {
		t.Errorf("eu without a store: %+v, want unchecked, with its events found in us", r.Regions[0])
	}

	if _, err := CheckResidency(context.Background(), res, ResidencyOptions{Stores: map[string]EventStore{"ap": us}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("store for an unknown target: %v, want ErrInvalidOptions", err)
	}
	if _, err := CheckResidency(context.Background(), trackedResult(nil), ResidencyOptions{Stores: map[string]EventStore{"eu": eu}}); err == nil {
		t.Error("a run without tracked events accepted")
	}
}

func TestRegionsParseStoreSpecs(t *testing.T) {
	dir := t.TempDir()
	if _, err := stack.WriteState(dir, stack.Endpoints{ClickHouseNative: "127.0.0.1:9123", ClickHouseUser: "ro", ClickHousePassword: "pw"}); err != nil {
		t.Fatal(err)
	}
	got, err := ParseStoreSpecs([]string{"eu=127.0.0.1:9000", "us=reader@ch.us.example:9440", "ap=" + dir, "sa=" + filepath.Join(dir, stack.StateFile)})
	if err != nil {
		t.Fatal(err)
	}
	want := []StoreSpec{
		{Name: "eu", Addr: "127.0.0.1:9000"},
		{Name: "us", Addr: "ch.us.example:9440", User: "reader"},
		{Name: "ap", Addr: "127.0.0.1:9123", User: "ro", Password: "pw"},
		{Name: "sa", Addr: "127.0.0.1:9123", User: "ro", Password: "pw"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ParseStoreSpecs = %+v, want %+v", got, want)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"eu", "eu=", "eu=host", "eu=1.2.3.4:9000,eu=x", "eu=" + empty} {
		if _, err := ParseStoreSpecs(strings.Split(bad, ",")); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("ParseStoreSpecs(%q) = %v, want an ErrInvalidOptions", bad, err)
		}
	}
}

// Two local stacks play eu and us. Events sent to each region's endpoint are stored
// there and nowhere else; when us's endpoint is misrouted to eu's stack, the check
// fails naming us, with the evidence.
func TestRegionsResidencyWithTwoLocalStacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two local stacks (clickhouse-server, postgres)")
	}
	began := time.Now()
	// Both stacks accept one token, as the stream sends the same requests to both.
	// They start side by side (localtest.Up starts one at a time).
	const token = "phc_residency_test_token"
	stacks := make([]*local.Stack, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range stacks {
		wg.Go(func() {
			s, err := local.Up(context.Background(), local.Options{Listen: "127.0.0.1:0", Token: token})
			stacks[i], errs[i] = s, err
		})
	}
	wg.Wait()
	for i, s := range stacks {
		if s != nil {
			t.Cleanup(func() {
				if err := s.Close(context.Background()); err != nil {
					t.Errorf("stop stack %d: %v", i, err)
				}
			})
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("local stacks: %v", err)
	}
	up := time.Since(began)
	eu, us := stacks[0], stacks[1]
	stores := map[string]EventStore{"eu": ClickHouseStore(eu.ClickHouse, eu.Database), "us": ClickHouseStore(us.ClickHouse, us.Database)}

	// wait bounds the wait for each region's events: the routed run ends as soon as
	// they are in; the misrouted one waits it out.
	run := func(t *testing.T, usURL string, seed uint64, wait time.Duration) Residency {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		gen, err := traffic.New(traffic.Options{BaseURL: eu.Endpoints.CaptureURL, Token: token, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, Options{
			Targets: []Target{{"eu", eu.Endpoints.CaptureURL}, {"us", usURL}},
			Stream:  gen.Targeter(ctx, nil), Rate: 20, Rounds: 30, Warmup: 2, TrackEvents: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range res.Targets {
			if tr.Summary.Errors != 0 || len(tr.Events.Acked) == 0 {
				t.Fatalf("%s: %d errors (%v), %d events acknowledged: want no errors and some events", tr.Target.Name, tr.Summary.Errors, tr.Summary.TopErrors, len(tr.Events.Acked))
			}
		}
		r, err := CheckResidency(ctx, res, ResidencyOptions{Stores: stores, Timeout: wait})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Analyze(res, AnalyzeOptions{Resamples: 1000, Residency: &r})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := WriteText(&out, rep); err != nil {
			t.Fatal(err)
		}
		t.Logf("residency in %s:\n%s", r.Waited.Round(time.Millisecond), out.String())
		if rep.Passed != r.Passed {
			t.Errorf("report passed %v, residency passed %v", rep.Passed, r.Passed)
		}
		return r
	}

	t.Run("routed", func(t *testing.T) {
		r := run(t, us.Endpoints.CaptureURL, 1, 20*time.Second)
		if !r.Passed {
			t.Errorf("violations with each region on its own stack: %q", r.Violations())
		}
		for _, g := range r.Regions {
			if !g.Checked || g.Stored != g.Acked || g.Missing != 0 || len(g.Elsewhere) != 0 {
				t.Errorf("%s: %+v, want every acknowledged event in its own store and none elsewhere", g.Name, g)
			}
		}
	})
	t.Run("us misrouted to eu", func(t *testing.T) {
		r := run(t, eu.Endpoints.CaptureURL, 2, 2*time.Second)
		if r.Passed {
			t.Fatal("residency passed with us's endpoint pointing at eu's stack")
		}
		g := r.Regions[1]
		v := strings.Join(r.Violations(), "\n")
		if g.Name != "us" || g.Missing != g.Acked || len(g.Elsewhere) != 1 || g.Elsewhere[0].Store != "eu" || g.Elsewhere[0].Count != g.Acked+g.Unacked ||
			!strings.Contains(v, "events sent to us were found in eu's store") || !strings.Contains(v, "events us acknowledged are missing from us's store") {
			t.Errorf("us: %+v\nviolations:\n%s\nwant all of us's events in eu's store and missing from us's", g, v)
		}
		if !r.Regions[0].Passed() {
			t.Errorf("eu: %+v, want it to pass (its events are where they belong)", r.Regions[0])
		}
	})
	t.Logf("two stacks up in %s, whole test %s", up.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}
