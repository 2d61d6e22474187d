package e2e

import (
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
	s := upStack(t, local.Options{})
	teamID := addSDKFlags(t, s)

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
	checkSDKEvents(t, s, teamID, uuids, "user-1", "user-1-alias")

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
