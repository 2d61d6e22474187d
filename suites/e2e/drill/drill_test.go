package drill

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/internal/stack/local/localtest"
)

// drill runs fault against s and fails t unless every acknowledged event is
// stored exactly once.
func drill(t *testing.T, s *local.Stack, fault Fault, seed uint64) *Result {
	t.Helper()
	res, err := Run(context.Background(), Options{Target: s.Endpoints.CaptureURL, Token: s.Endpoints.Token,
		ClickHouse: s.ClickHouse, Database: s.Database, Fault: fault, Seed: seed,
		// Shorter than Run's defaults (3,000 events over 9 s) to keep make test
		// fast: the fault still starts mid-stream, at 2 s.
		Events: 2000, Stream: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.String())
	if !res.Passed() {
		t.Errorf("drill failed: %s (first missing %v; refused: %v)", res, res.Missing, res.RefusedErrors)
	}
	if res.RTO <= 0 || res.RTO > time.Minute {
		t.Errorf("recovery time %s: want the time from the fault's end until a probe event was stored", res.RTO)
	}
	return res
}

// TestLocalDrills runs every drill of the local stack, one stack each, with
// a token cache shorter than the PostgreSQL pause: every acknowledged event
// must be stored exactly once. Only PostgreSQL and worker faults must leave
// capture acknowledging throughout (the token cache and Kafka carry it).
func TestLocalDrills(t *testing.T) {
	names := []string{}
	for _, f := range LocalFaults(&local.Stack{}) {
		names = append(names, f.Name)
	}
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			s := localtest.Up(t, local.Options{TokenCacheTTL: time.Second})
			var fault Fault
			for _, f := range LocalFaults(s) {
				if f.Name == name {
					fault = f
				}
			}
			res := drill(t, s, fault, uint64(i+1))
			if strings.HasPrefix(name, "worker") && res.Refused != 0 {
				t.Errorf("capture refused %d events while only the worker was down", res.Refused)
			}
		})
	}
}

// TestDrillCatchesLoss: a drill must fail when acknowledged events are lost.
// The fault here deletes what was stored, as a broken deployment would lose it.
func TestDrillCatchesLoss(t *testing.T) {
	s := localtest.Up(t, local.Options{})
	res, err := Run(context.Background(), Options{Target: s.Endpoints.CaptureURL, Token: s.Endpoints.Token,
		ClickHouse: s.ClickHouse, Database: s.Database, Events: 600, Stream: 3 * time.Second, Wait: 5 * time.Second,
		Fault: Fault{Name: "truncate", Hold: 2 * time.Second, Inject: func(context.Context) error { return nil },
			Recover: func(ctx context.Context) error {
				return s.ClickHouse.Exec(ctx, "TRUNCATE TABLE `"+s.Database+"`.events")
			}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed() || res.MissingCount == 0 {
		t.Errorf("a drill that lost events passed: %s", res)
	}
}

func TestOptionsRejectMistakes(t *testing.T) {
	for _, o := range []Options{{}, {Target: "http://x", Token: "t"}} {
		if _, err := Run(context.Background(), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Run(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
}
