package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// plan is what a server SDK (go, node) is asked to send, with distinct ids
// unique to the run so that runs against one project never mix.
type plan struct {
	Run string `json:"run"`
	// Events captures ($pageview) spread over People; every tenth sets
	// plan=pro ($set), except People[0]'s: its first sets plan=free and
	// first_index=0 ($set_once), and after everything else is delivered a
	// last capture of People[0] sets plan=pro and first_index=1 — $set must
	// win and $set_once must not. (SDKs send batches concurrently, so only
	// a later wave has a known order.)
	Events int      `json:"events"`
	People []string `json:"people"`
	// Anon sends anonEvents captures, is aliased to User, which is then
	// identified (email) and sends anonEvents captures of its own.
	Anon string `json:"anon"`
	User string `json:"user"`
	// Company is the group every capture belongs to; group identify sets
	// its seats to 40.
	Company string `json:"company"`
}

// anonEvents is how many captures the anonymous and the identified id send.
const anonEvents = 5

// newPlan returns the plan of one run.
func newPlan(run string, events int) plan {
	p := plan{Run: run, Events: events, Anon: "sd-" + run + "-anon", User: "sd-" + run + "-user", Company: "acme-" + run}
	for i := range min(events, 50) {
		p.People = append(p.People, fmt.Sprintf("sd-%s-p%d", run, i))
	}
	return p
}

// flagQuery is one flag question a server SDK asks, and the answer expected.
type flagQuery struct {
	Name             string                    `json:"name"`
	Key              string                    `json:"key,omitempty"`
	Payload          bool                      `json:"payload,omitempty"` // ask for the payload, not the value
	All              bool                      `json:"all,omitempty"`     // ask for every flag
	DistinctID       string                    `json:"distinctId"`
	PersonProperties map[string]any            `json:"personProperties,omitempty"`
	Groups           map[string]string         `json:"groups,omitempty"`
	GroupProperties  map[string]map[string]any `json:"groupProperties,omitempty"`
	Want             any                       `json:"-"`
}

// flagQueries are the questions of a run whose events are stored: values
// from the request (person and group properties), from the stored person
// ($set on People[0]) and from the stored group (group identify of Company).
func (p plan) flagQueries() []flagQuery {
	pro := map[string]any{"plan": "pro"}
	company := map[string]string{groupType: p.Company}
	seats := func(n int) map[string]map[string]any { return map[string]map[string]any{groupType: {"seats": n}} }
	other := map[string]string{groupType: "other-" + p.Run}
	return []flagQuery{
		{Name: "boolean", Key: flagCheckout, DistinctID: p.User, Want: true},
		{Name: "payload", Key: flagCheckout, Payload: true, DistinctID: p.User, Want: map[string]any{"color": "blue"}},
		{Name: "multivariate", Key: flagPricing, DistinctID: p.User, Want: "b"},
		{Name: "person property in request", Key: flagProOnly, DistinctID: p.User, PersonProperties: pro, Want: true},
		{Name: "person property mismatch", Key: flagProOnly, DistinctID: p.User, PersonProperties: map[string]any{"plan": "free"}, Want: false},
		{Name: "person property stored", Key: flagProOnly, DistinctID: p.People[0], Want: true},
		{Name: "group property in request", Key: flagGroup, DistinctID: p.User, Groups: other, GroupProperties: seats(40), Want: true},
		{Name: "group property mismatch", Key: flagGroup, DistinctID: p.User, Groups: other, GroupProperties: seats(5), Want: false},
		{Name: "group property stored", Key: flagGroup, DistinctID: p.User, Groups: company, Want: true},
		{Name: "group absent", Key: flagGroup, DistinctID: p.User, Want: false},
		{Name: "all flags", All: true, DistinctID: p.User, PersonProperties: pro, Groups: other, GroupProperties: seats(40),
			Want: map[string]any{flagCheckout: true, flagPricing: "b", flagProOnly: true, flagGroup: true}},
	}
}

// sameAnswer compares an SDK's flag answer with the expected one: JSON
// strings (posthog-go's payloads) are decoded first, and for "all flags"
// only this run's flags ("shakedown-" keys) count.
func sameAnswer(got, want any) bool {
	got = normalize(got)
	if m, ok := got.(map[string]any); ok {
		if _, all := want.(map[string]any); all {
			if _, payload := want.(map[string]any)["color"]; !payload {
				ours := map[string]any{}
				for k, v := range m {
					if strings.HasPrefix(k, "shakedown-") {
						ours[k] = v
					}
				}
				got = ours
			}
		}
	}
	return reflect.DeepEqual(got, normalize(want))
}

// normalize round-trips v through JSON (decoding a string that holds a JSON
// object), so that values from Go, Node and the browser compare alike.
func normalize(v any) any {
	if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "{") {
		var out any
		if json.Unmarshal([]byte(s), &out) == nil {
			return out
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	if dec.Decode(&out) != nil {
		return v
	}
	return out
}
