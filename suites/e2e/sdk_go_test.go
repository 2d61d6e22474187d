package e2e

import (
	"context"
	"fmt"
	"io"
	"log"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/posthog/posthog-go"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// sdkCallback counts what posthog-go reports as delivered and as dropped.
type sdkCallback struct {
	mu        sync.Mutex
	delivered int
	dropped   []error
}

func (c *sdkCallback) Success(posthog.APIMessage) { c.mu.Lock(); c.delivered++; c.mu.Unlock() }
func (c *sdkCallback) Failure(_ posthog.APIMessage, err error) {
	c.mu.Lock()
	c.dropped = append(c.dropped, err)
	c.mu.Unlock()
}

// TestPostHogGoSDK lets the real posthog-go SDK judge the local stack, as a
// Go service would use it: captures (with $set and groups), identify, alias
// and group identify through its own batching transport, then feature flags
// (boolean with payload, multivariate, person property) through /flags on
// the capture URL. Every event it delivers must be stored exactly once.
func TestPostHogGoSDK(t *testing.T) {
	ctx := context.Background()
	s := upStack(t, local.Options{})
	var teamID int64
	if err := s.Postgres.QueryRow(ctx, `SELECT id FROM teams WHERE api_token = $1`, s.Endpoints.Token).Scan(&teamID); err != nil {
		t.Fatal(err)
	}
	for key, filters := range map[string]string{
		"checkout": `{"groups":[{"properties":[],"rollout_percentage":100}],"payloads":{"true":"{\"color\":\"blue\"}"}}`,
		"pricing":  `{"groups":[{"properties":[],"rollout_percentage":100,"variant":"b"}],"multivariate":{"variants":[{"key":"a","rollout_percentage":50},{"key":"b","rollout_percentage":50}]}}`,
		"pro-only": `{"groups":[{"properties":[{"key":"plan","value":["pro"],"operator":"exact","type":"person"}],"rollout_percentage":100}]}`,
	} {
		if _, err := s.Postgres.Exec(ctx, `INSERT INTO feature_flags (team_id, key, name, active, deleted, filters) VALUES ($1, $2, $2, true, false, $3::jsonb)`,
			teamID, key, filters); err != nil {
			t.Fatal(err)
		}
	}

	cb := &sdkCallback{}
	client, err := posthog.NewWithConfig(s.Endpoints.Token, posthog.Config{Endpoint: s.Endpoints.CaptureURL, Callback: cb,
		BatchSize: 100, Interval: 100 * time.Millisecond, Logger: posthog.StdLogger(log.New(io.Discard, "", 0))})
	if err != nil {
		t.Fatal(err)
	}
	const n, people = 1000, 50
	uuids := make([]string, n)
	for i := range uuids {
		uuids[i] = uuid.NewString()
		props := posthog.NewProperties().Set("$current_url", fmt.Sprintf("https://shop.example/p/%d", i))
		if i%10 == 0 {
			props.Set("$set", map[string]any{"plan": "pro"})
		}
		if err := client.Enqueue(posthog.Capture{Uuid: uuids[i], DistinctId: fmt.Sprintf("user-%d", i%people), Event: "$pageview",
			Properties: props, Groups: posthog.NewGroups().Set("company", "acme")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, msg := range []posthog.Message{
		posthog.Identify{DistinctId: "user-1", Properties: posthog.NewProperties().Set("email", "u1@shop.example")},
		posthog.Alias{DistinctId: "user-1", Alias: "user-1-alias"},
		posthog.GroupIdentify{Type: "company", Key: "acme", Properties: posthog.NewProperties().Set("seats", 40)},
	} {
		if err := client.Enqueue(msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if cb.delivered != n+3 || len(cb.dropped) > 0 {
		t.Fatalf("posthog-go delivered %d of %d messages; dropped: %v", cb.delivered, n+3, cb.dropped)
	}
	stored, err := WaitStored(ctx, s.ClickHouse, s.Database, uuids, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Rows != n || stored.Distinct != n {
		t.Fatalf("sent %d captures, stored %d rows (%d distinct), missing %v", n, stored.Rows, stored.Distinct, stored.Missing)
	}
	var others uint64
	q := fmt.Sprintf("SELECT count() FROM `%s`.events FINAL WHERE event IN ('$identify', '$create_alias', '$groupidentify')", s.Database)
	if err := s.ClickHouse.QueryRow(ctx, q).Scan(&others); err != nil || others != 3 {
		t.Errorf("identify, alias and group identify stored: %d (%v), want 3", others, err)
	}
	var merged bool
	if err := s.Postgres.QueryRow(ctx, `SELECT a.person_id = b.person_id FROM person_distinct_ids a, person_distinct_ids b
		WHERE a.team_id = $1 AND b.team_id = $1 AND a.distinct_id = 'user-1' AND b.distinct_id = 'user-1-alias'`, teamID).Scan(&merged); err != nil || !merged {
		t.Errorf("alias did not join user-1's person: %v", err)
	}

	// Flags: decide reloads its cache every few seconds; the SDK asks /flags on the capture URL.
	flags, err := posthog.NewWithConfig(s.Endpoints.Token, posthog.Config{Endpoint: s.Endpoints.CaptureURL, Logger: posthog.StdLogger(log.New(io.Discard, "", 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer flags.Close()
	pro := posthog.NewProperties().Set("plan", "pro")
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := flags.GetFeatureFlag(posthog.FeatureFlagPayload{Key: "checkout", DistinctId: "user-3", PersonProperties: pro})
		if err == nil && got == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkout never became true for posthog-go: %v, %v", got, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	all, err := flags.GetAllFlags(posthog.FeatureFlagPayloadNoKey{DistinctId: "user-3", PersonProperties: pro})
	if err != nil || all["checkout"] != true || all["pricing"] != "b" || all["pro-only"] != true {
		t.Errorf("GetAllFlags = %v, %v", all, err)
	}
	free, err := flags.GetFeatureFlag(posthog.FeatureFlagPayload{Key: "pro-only", DistinctId: "user-4",
		PersonProperties: posthog.NewProperties().Set("plan", "free")})
	if err != nil || free != false {
		t.Errorf("pro-only for a free plan = %v, %v", free, err)
	}
	if p, err := flags.GetFeatureFlagPayload(posthog.FeatureFlagPayload{Key: "checkout", DistinctId: "user-3"}); err != nil || p != `{"color":"blue"}` {
		t.Errorf("checkout payload = %q, %v", p, err)
	}
}
