package e2e

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/shakedown-dev/shakedown/internal/phclient"
)

// Generate returns n events with client-made uuids, spread over people distinct ids,
// deterministic for a seed.
func Generate(seed uint64, n, people int) []phclient.Event {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	names := []string{"$pageview", "$autocapture", "signed_up", "purchase", "$pageleave", "button clicked"}
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	out := make([]phclient.Event, n)
	for i := range out {
		var u uuid.UUID
		for j := range u {
			u[j] = byte(rng.UintN(256))
		}
		u[6] = (u[6] & 0x0f) | 0x40 // version 4
		u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
		out[i] = phclient.Event{
			UUID:       u.String(),
			Event:      names[rng.IntN(len(names))],
			DistinctID: fmt.Sprintf("user-%d", rng.IntN(people)),
			Timestamp:  base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano),
			Properties: map[string]any{
				"$current_url": fmt.Sprintf("https://app.example.test/page/%d", rng.IntN(50)),
				"$browser":     []string{"Chrome", "Firefox", "Safari"}[rng.IntN(3)],
				"seq":          i,
			},
		}
	}
	return out
}
