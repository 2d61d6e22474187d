package decide

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestPropertyOperators(t *testing.T) {
	cases := []struct {
		name     string
		operator string
		value    any
		props    map[string]any // the "p" property is what is filtered on
		want     bool
	}{
		{"exact same case", "exact", "pro", map[string]any{"p": "pro"}, true},
		{"exact ignores case", "exact", "Alice@X.com", map[string]any{"p": "alice@x.COM"}, true},
		{"exact differs", "exact", "pro", map[string]any{"p": "free"}, false},
		{"exact list hit", "exact", []any{"a", "b"}, map[string]any{"p": "b"}, true},
		{"exact list miss", "exact", []any{"a", "b"}, map[string]any{"p": "c"}, false},
		{"exact number", "exact", 5, map[string]any{"p": 5}, true},
		{"exact number as string", "exact", "5", map[string]any{"p": 5}, true},
		{"exact bool", "exact", true, map[string]any{"p": true}, true},
		{"exact missing", "exact", "pro", map[string]any{"other": "pro"}, false},
		{"is_not differs", "is_not", "pro", map[string]any{"p": "free"}, true},
		{"is_not same", "is_not", "pro", map[string]any{"p": "PRO"}, false},
		{"is_not list", "is_not", []any{"a", "b"}, map[string]any{"p": "a"}, false},
		{"is_not missing", "is_not", "pro", map[string]any{}, false},
		{"icontains hit", "icontains", "@X.com", map[string]any{"p": "bob@x.COM"}, true},
		{"icontains miss", "icontains", "@x.com", map[string]any{"p": "bob@y.com"}, false},
		{"not_icontains hit", "not_icontains", "@x.com", map[string]any{"p": "bob@y.com"}, true},
		{"not_icontains miss", "not_icontains", "@x.com", map[string]any{"p": "bob@X.com"}, false},
		{"regex hit", "regex", `^b.b@`, map[string]any{"p": "bob@x.com"}, true},
		{"regex miss", "regex", `^b.b@`, map[string]any{"p": "alice@x.com"}, false},
		{"regex invalid", "regex", `(`, map[string]any{"p": "("}, false},
		{"not_regex hit", "not_regex", `^b`, map[string]any{"p": "alice"}, true},
		{"not_regex miss", "not_regex", `^b`, map[string]any{"p": "bob"}, false},
		{"not_regex invalid", "not_regex", `(`, map[string]any{"p": "bob"}, false},
		{"gt above", "gt", 10, map[string]any{"p": 11}, true},
		{"gt equal", "gt", 10, map[string]any{"p": 10}, false},
		{"gt numeric string", "gt", "10", map[string]any{"p": "11.5"}, true},
		{"gt numeric not lexical", "gt", 9, map[string]any{"p": 10}, true},
		{"gt dates as strings", "gt", "2024-01-01", map[string]any{"p": "2024-02-01"}, true},
		{"gt dates as strings, earlier", "gt", "2024-03-01", map[string]any{"p": "2024-02-01"}, false},
		{"lt strings", "lt", "b", map[string]any{"p": "a"}, true},
		{"lte strings equal", "lte", "b", map[string]any{"p": "b"}, true},
		{"gte equal", "gte", 10, map[string]any{"p": 10}, true},
		{"gte below", "gte", 10, map[string]any{"p": 9}, false},
		{"lt below", "lt", 10, map[string]any{"p": 9}, true},
		{"lt equal", "lt", 10, map[string]any{"p": 10}, false},
		{"lte equal", "lte", 10, map[string]any{"p": 10}, true},
		{"lte above", "lte", 10, map[string]any{"p": 10.5}, false},
		{"lt missing", "lt", 10, map[string]any{}, false},
		{"is_set present", "is_set", "is_set", map[string]any{"p": ""}, true},
		{"is_set missing", "is_set", "is_set", map[string]any{}, false},
		{"is_not_set missing", "is_not_set", "is_not_set", map[string]any{}, true},
		{"is_not_set present", "is_not_set", "is_not_set", map[string]any{"p": "x"}, false},
	}
	db := pool(t)
	teamID, token := newTeam(t, db)
	for i, c := range cases {
		filters, err := json.Marshal(map[string]any{"groups": []any{map[string]any{
			"properties":         []any{map[string]any{"key": "p", "value": c.value, "operator": c.operator, "type": "person"}},
			"rollout_percentage": 100,
		}}})
		if err != nil {
			t.Fatal(err)
		}
		addFlags(t, db, teamID, flagRow{key: fmt.Sprintf("op-%d", i), filters: string(filters)})
	}
	h, _ := newHandler(t, db)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := flagsFor(t, h, token, "operator-user", c.props)
			if v := got[fmt.Sprintf("op-%d", i)]; v != c.want {
				t.Errorf("%s %v against %v: got %v, want %v", c.operator, c.value, c.props, v, c.want)
			}
		})
	}
}

func TestGroupsOrPropertiesAnd(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID, flagRow{key: "f", filters: `{"groups":[
		{"properties":[{"key":"email","value":"@x.com","operator":"icontains","type":"person"},
		               {"key":"plan","value":"pro","operator":"exact","type":"person"}],"rollout_percentage":100},
		{"properties":[{"key":"country","value":["NZ","AU"],"operator":"exact","type":"person"}],"rollout_percentage":100}]}`})
	h, _ := newHandler(t, db)
	for _, c := range []struct {
		props map[string]any
		want  bool
	}{
		{map[string]any{"email": "a@x.com", "plan": "pro"}, true},
		{map[string]any{"email": "a@x.com", "plan": "free"}, false},
		{map[string]any{"email": "a@y.com", "plan": "pro"}, false},
		{map[string]any{"email": "a@y.com", "plan": "free", "country": "AU"}, true},
		{map[string]any{"country": "FR"}, false},
	} {
		if got := flagsFor(t, h, token, "groups-user", c.props)["f"]; got != c.want {
			t.Errorf("props %v: got %v, want %v", c.props, got, c.want)
		}
	}
}

func TestPersonPropertiesFromDatabase(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID,
		flagRow{key: "x-staff", filters: `{"groups":[{"properties":[{"key":"email","value":"@x.com","operator":"icontains","type":"person"}],"rollout_percentage":100}]}`},
		flagRow{key: "pro", filters: `{"groups":[{"properties":[{"key":"plan","value":"pro","operator":"exact","type":"person"}],"rollout_percentage":100}]}`},
	)
	addPerson(t, db, teamID, map[string]any{"email": "ann@x.com", "plan": "free"}, "ann", "ann-anon")
	// Another team's person with the same distinct_id must not leak in.
	otherTeam, _ := newTeam(t, db)
	addPerson(t, db, otherTeam, map[string]any{"email": "ann@x.com", "plan": "pro"}, "ann-other")
	addPerson(t, db, otherTeam, map[string]any{"plan": "pro"}, "bob")
	h, reg := newHandler(t, db)

	for _, c := range []struct {
		name, id string
		props    map[string]any
		staff    bool
		pro      bool
	}{
		{"stored properties", "ann", nil, true, false},
		{"any distinct_id of the person", "ann-anon", nil, true, false},
		{"request overrides stored", "ann", map[string]any{"email": "ann@y.com"}, false, false},
		{"request adds to stored", "ann", map[string]any{"plan": "pro"}, true, true},
		{"unknown person", "nobody", nil, false, false},
		{"other team's person is not read", "bob", nil, false, false},
		{"request only", "nobody", map[string]any{"email": "z@x.com", "plan": "pro"}, true, true},
	} {
		got := flagsFor(t, h, token, c.id, c.props)
		if got["x-staff"] != c.staff || got["pro"] != c.pro {
			t.Errorf("%s: x-staff=%v pro=%v, want %v %v", c.name, got["x-staff"], got["pro"], c.staff, c.pro)
		}
	}
	lookups := h.metrics.personLookups
	if n := value(t, lookups.WithLabelValues("skipped")); n != 1 {
		t.Errorf("person reads skipped = %v, want 1 (only the request carrying every property)", n)
	}
	if n := value(t, lookups.WithLabelValues("found")); n != 4 {
		t.Errorf("person reads found = %v, want 4", n)
	}
	if n := families(t, reg, "shakedown_decide_person_lookups_total"); n == 0 {
		t.Errorf("person lookup metric not registered")
	}
}
