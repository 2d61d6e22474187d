package decide

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/posthog/posthog-go"
)

// addGroupType maps group type typ to index in teamID, as the worker allocates it.
func addGroupType(tb testing.TB, db *pgxpool.Pool, teamID int64, typ string, index int) {
	tb.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO group_type_mapping (team_id, group_type, group_type_index) VALUES ($1, $2, $3)`,
		teamID, typ, index); err != nil {
		tb.Fatalf("map group type %s to %d: %v", typ, index, err)
	}
}

// addGroup stores a group with props, as $groupidentify leaves it.
func addGroup(tb testing.TB, db *pgxpool.Pool, teamID int64, index int, key string, props map[string]any) {
	tb.Helper()
	js, err := json.Marshal(props)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec(context.Background(), `INSERT INTO groups (team_id, group_type_index, group_key, group_properties) VALUES ($1, $2, $3, $4::jsonb)`,
		teamID, index, key, string(js)); err != nil {
		tb.Fatalf("insert group %s: %v", key, err)
	}
}

// flagsV2 POSTs body to /flags?v=2, the detailed form current SDKs call.
func flagsV2(tb testing.TB, h http.Handler, body map[string]any) answer {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return do(tb, h, httptest.NewRequest(http.MethodPost, "/flags/?v=2", strings.NewReader(string(b))))
}

// detail returns flags[key] of a v=2 /flags answer.
func (a answer) detail(tb testing.TB, key string) map[string]any {
	tb.Helper()
	flags, _ := a.body["flags"].(map[string]any)
	d, ok := flags[key].(map[string]any)
	if !ok {
		tb.Fatalf("flags.%s missing: %s", key, a.raw)
	}
	return d
}

// TestGroupFlagRolloutHashesTheGroupKey: a group-aggregated flag buckets by the
// request's group key, so every member of a group gets the same answer whatever
// its distinct_id, and the answer is PostHog's hash of the group key.
func TestGroupFlagRolloutHashesTheGroupKey(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addGroupType(t, db, teamID, "project", 0)
	addGroupType(t, db, teamID, "company", 1)
	addFlags(t, db, teamID,
		flagRow{key: "company-half", filters: `{"aggregation_group_type_index":1,"groups":[{"properties":[],"rollout_percentage":50}]}`},
		flagRow{key: "company-abc", filters: `{"aggregation_group_type_index":1,"groups":[{"properties":[],"rollout_percentage":100}],
			"multivariate":{"variants":[{"key":"a","rollout_percentage":34},{"key":"b","rollout_percentage":33},{"key":"c","rollout_percentage":33}]}}`},
	)
	h, _ := newHandler(t, db)
	seen := map[any]int{}
	for i := range 200 {
		company := fmt.Sprintf("company-%d", i)
		want := postHogHash(t, "company-half", company, "") <= 0.5
		for _, user := range []string{"alice", "bob-" + company} {
			got := call(t, h, map[string]any{"token": token, "distinct_id": user,
				"groups": map[string]any{"company": company, "project": "p1"}}).flags(t)
			if got["company-half"] != want {
				t.Fatalf("%s (user %s): company-half = %v, PostHog's hash of the group key says %v", company, user, got["company-half"], want)
			}
			if v := pickByHash(t, "company-abc", company); got["company-abc"] != v {
				t.Fatalf("%s (user %s): company-abc = %v, the variant hash of the group key says %v", company, user, got["company-abc"], v)
			}
		}
		seen[want]++
	}
	if seen[true] < 60 || seen[false] < 60 {
		t.Errorf("50%% of 200 groups: %v", seen)
	}
}

// pickByHash is the variant of a 34/33/33 a/b/c flag for id, from the longhand hash.
func pickByHash(t testing.TB, key, id string) string {
	h := postHogHash(t, key, id, "variant")
	switch {
	case h < 0.34:
		return "a"
	case h < 0.67:
		return "b"
	}
	return "c"
}

// TestGroupFlagWithoutItsGroup: without a key for the flag's group type, or when the
// team has no type at the flag's index, the flag is false with PostHog's reason
// no_group_type, and that is not an error.
func TestGroupFlagWithoutItsGroup(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addGroupType(t, db, teamID, "company", 0)
	addFlags(t, db, teamID,
		flagRow{key: "company-all", filters: `{"aggregation_group_type_index":0,"groups":[{"properties":[],"rollout_percentage":100}]}`},
		flagRow{key: "unmapped-all", filters: `{"aggregation_group_type_index":3,"groups":[{"properties":[],"rollout_percentage":100}]}`},
		flagRow{key: "person-all", filters: `{"groups":[{"properties":[],"rollout_percentage":100}]}`},
	)
	h, _ := newHandler(t, db)
	for name, groups := range map[string]any{
		"no groups":          nil,
		"another group type": map[string]any{"project": "p1"},
		"an empty key":       map[string]any{"company": ""},
	} {
		body := map[string]any{"token": token, "distinct_id": "u1"}
		if groups != nil {
			body["groups"] = groups
		}
		a := flagsV2(t, h, body)
		for _, key := range []string{"company-all", "unmapped-all"} {
			d := a.detail(t, key)
			reason, _ := d["reason"].(map[string]any)
			if d["enabled"] != false || reason["code"] != reasonNoGroupType || reason["condition_index"] != nil {
				t.Errorf("%s: flags.%s = %v, want disabled with reason no_group_type and no condition_index", name, key, d)
			}
		}
		if a.flags(t)["person-all"] != true || a.body["errorsWhileComputingFlags"] != false {
			t.Errorf("%s: a missing group must neither touch person flags nor count as an error: %s", name, a.raw)
		}
	}
	a := flagsV2(t, h, map[string]any{"token": token, "distinct_id": "u1", "groups": map[string]any{"company": 42}})
	if d := a.detail(t, "company-all"); d["enabled"] != true || d["reason"].(map[string]any)["code"] != reasonConditionMatch {
		t.Errorf("a numeric group key is a key: flags.company-all = %v", d)
	}
	if d := a.detail(t, "unmapped-all"); d["enabled"] != false {
		t.Errorf("a flag on an unmapped group type index: %v", d)
	}
}

// TestGroupPropertyFilters: "type":"group" filters read the group's stored
// properties overlaid by the request's group_properties; PostgreSQL is read only when
// the request lacks a filtered key.
func TestGroupPropertyFilters(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addGroupType(t, db, teamID, "company", 0)
	addGroupType(t, db, teamID, "project", 1)
	addFlags(t, db, teamID, flagRow{key: "pro-companies", filters: `{"aggregation_group_type_index":0,"groups":[
		{"properties":[{"key":"plan","value":["pro"],"operator":"exact","type":"group","group_type_index":0}],"rollout_percentage":100}]}`})
	addGroup(t, db, teamID, 0, "acme", map[string]any{"plan": "pro", "seats": 40})
	addGroup(t, db, teamID, 0, "beta", map[string]any{"plan": "free"})
	addGroup(t, db, teamID, 1, "beta", map[string]any{"plan": "pro"}) // same key, other type: not read
	otherTeam, _ := newTeam(t, db)
	addGroup(t, db, otherTeam, 0, "gamma", map[string]any{"plan": "pro"}) // other team: not read
	h, reg := newHandler(t, db)

	for _, c := range []struct {
		name, company string
		props         map[string]any
		want          bool
	}{
		{"stored pro", "acme", nil, true},
		{"stored free", "beta", nil, false},
		{"request overrides stored", "beta", map[string]any{"plan": "pro"}, true},
		{"request overrides stored, the other way", "acme", map[string]any{"plan": "free"}, false},
		{"request adds an unfiltered key only", "acme", map[string]any{"seats": 1}, true},
		{"unknown group", "nobody", nil, false},
		{"other team's group is not read", "gamma", nil, false},
	} {
		body := map[string]any{"token": token, "distinct_id": "member", "groups": map[string]any{"company": c.company}}
		if c.props != nil {
			body["group_properties"] = map[string]any{"company": c.props, "project": map[string]any{"plan": "pro"}}
		}
		if got := call(t, h, body).flags(t)["pro-companies"]; got != c.want {
			t.Errorf("%s: pro-companies = %v, want %v", c.name, got, c.want)
		}
	}
	lookups := h.metrics.groupLookups
	for result, want := range map[string]float64{"skipped": 2, "found": 3, "not_found": 2} {
		if n := value(t, lookups.WithLabelValues(result)); n != want {
			t.Errorf("group reads %s = %v, want %v", result, n, want)
		}
	}
	if n := families(t, reg, "shakedown_decide_group_lookups_total"); n == 0 {
		t.Error("group lookup metric not registered")
	}
}

// TestGroupFlagFiltersNotEvaluated: filters that are not PostHog semantics in their
// flag stay unsupported (false, errorsWhileComputingFlags) rather than guessed.
func TestGroupFlagFiltersNotEvaluated(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addGroupType(t, db, teamID, "company", 0)
	addGroupType(t, db, teamID, "project", 1)
	addFlags(t, db, teamID,
		flagRow{key: "person-filter-in-group-flag", filters: `{"aggregation_group_type_index":0,"groups":[
			{"properties":[{"key":"plan","value":"pro","type":"person"}],"rollout_percentage":100}]}`},
		flagRow{key: "group-filter-in-person-flag", filters: `{"groups":[
			{"properties":[{"key":"plan","value":"pro","type":"group","group_type_index":0}],"rollout_percentage":100}]}`},
		flagRow{key: "other-group-filter", filters: `{"aggregation_group_type_index":0,"groups":[
			{"properties":[{"key":"plan","value":"pro","type":"group","group_type_index":1}],"rollout_percentage":100}]}`},
		flagRow{key: "mixed-targeting", filters: `{"aggregation_group_type_index":0,"groups":[
			{"properties":[],"rollout_percentage":100,"aggregation_group_type_index":1}]}`},
	)
	h, _ := newHandler(t, db)
	a := flagsV2(t, h, map[string]any{"token": token, "distinct_id": "u1",
		"person_properties": map[string]any{"plan": "pro"},
		"groups":            map[string]any{"company": "acme", "project": "p1"},
		"group_properties":  map[string]any{"company": map[string]any{"plan": "pro"}, "project": map[string]any{"plan": "pro"}}})
	for _, key := range []string{"person-filter-in-group-flag", "group-filter-in-person-flag", "other-group-filter", "mixed-targeting"} {
		if d := a.detail(t, key); d["enabled"] != false || d["reason"].(map[string]any)["code"] != reasonUnsupported {
			t.Errorf("flags.%s = %v, want disabled and unsupported", key, d)
		}
	}
	if a.body["errorsWhileComputingFlags"] != true {
		t.Errorf("unsupported flags must set errorsWhileComputingFlags: %s", a.raw)
	}
}

// TestPostHogGoGroupFlags lets posthog-go judge group flags: it sends "groups" and
// "group_properties" to /flags/?v=2 and reads the answer.
func TestPostHogGoGroupFlags(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addGroupType(t, db, teamID, "company", 0)
	addFlags(t, db, teamID, flagRow{key: "pro-companies", filters: `{"aggregation_group_type_index":0,"groups":[
		{"properties":[{"key":"plan","value":"pro","operator":"exact","type":"group","group_type_index":0}],"rollout_percentage":100}]}`})
	addGroup(t, db, teamID, 0, "acme", map[string]any{"plan": "pro"})
	h, _ := newHandler(t, db)
	mux := http.NewServeMux()
	mux.Handle("/flags/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client, err := posthog.NewWithConfig(token, posthog.Config{Endpoint: srv.URL, Logger: posthog.StdLogger(log.New(io.Discard, "", 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, c := range []struct {
		name   string
		groups posthog.Groups
		props  map[string]posthog.Properties
		want   any
	}{
		{"stored properties", posthog.NewGroups().Set("company", "acme"), nil, true},
		{"request properties", posthog.NewGroups().Set("company", "newco"),
			map[string]posthog.Properties{"company": posthog.NewProperties().Set("plan", "pro")}, true},
		{"other plan", posthog.NewGroups().Set("company", "acme"),
			map[string]posthog.Properties{"company": posthog.NewProperties().Set("plan", "free")}, false},
		{"no group", nil, nil, false},
	} {
		got, err := client.GetFeatureFlag(posthog.FeatureFlagPayload{Key: "pro-companies", DistinctId: "u1", Groups: c.groups, GroupProperties: c.props})
		if err != nil || got != c.want {
			t.Errorf("%s: GetFeatureFlag = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
