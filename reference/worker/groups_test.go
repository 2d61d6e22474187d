package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// newTeam inserts another team into e's PostgreSQL and returns its id.
func (e *env) newTeam(t *testing.T, name string) int64 {
	t.Helper()
	var id int64
	if err := e.pg.QueryRow(context.Background(), "INSERT INTO teams (name, api_token) VALUES ($1, $2) RETURNING id",
		name, "phc_"+name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// mustIndex is groupTypeCache.index failing the test on error.
func mustIndex(t *testing.T, c *groupTypeCache, team int64, typ string) (int, bool) {
	t.Helper()
	idx, ok, err := c.index(context.Background(), team, typ)
	if err != nil {
		t.Fatalf("index of group type %q in team %d: %v", typ, team, err)
	}
	return idx, ok
}

// TestGroupTypeAllocationCapsAtFive: types get indexes 0..4 in order of first sight;
// a sixth gets none; asking again, from the same or a fresh cache (another worker),
// gives the same answers and writes nothing.
func TestGroupTypeAllocationCapsAtFive(t *testing.T) {
	e := newEnv(t, 1)
	types := []string{"company", "project", "team", "org", "workspace", "sixth"}
	check := func(c *groupTypeCache, when string) {
		for i, typ := range types {
			idx, ok := mustIndex(t, c, e.team, typ)
			if wantOK := i < maxGroupTypes; ok != wantOK || ok && idx != i {
				t.Errorf("%s: %s -> %d, %v; want %d, %v", when, typ, idx, ok, i, wantOK)
			}
		}
	}
	c := newGroupTypeCache(e.pg)
	check(c, "first allocation")
	check(c, "cached")
	check(newGroupTypeCache(e.pg), "a fresh cache")
	mapping, err := groupTypes(context.Background(), e.pg, e.team)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"company": 0, "project": 1, "team": 2, "org": 3, "workspace": 4}
	if !reflect.DeepEqual(mapping, want) {
		t.Errorf("group_type_mapping = %v, want %v", mapping, want)
	}
	if other := e.newTeam(t, "other"); true {
		if idx, ok := mustIndex(t, c, other, "sixth"); !ok || idx != 0 {
			t.Errorf("another team's first type got %d, %v; want 0: the cap is per team", idx, ok)
		}
	}
}

// TestGroupTypeAllocationConcurrent races four workers (four caches, each with its
// own connections) allocating different types of one team at once, then one same
// type: the indexes are distinct and the lowest free ones, and the shared type gets
// one index.
func TestGroupTypeAllocationConcurrent(t *testing.T) {
	e := newEnv(t, 1)
	const workers = 4
	caches := make([]*groupTypeCache, workers)
	for i := range caches {
		pool, err := pgxpool.New(context.Background(), e.pgDSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if err := pool.Ping(context.Background()); err != nil { // connected before the race starts
			t.Fatal(err)
		}
		caches[i] = newGroupTypeCache(pool)
	}
	for round := range 20 {
		team := e.newTeam(t, fmt.Sprintf("race%d", round))
		race := func(typ func(i int) string) []int {
			out := make([]int, workers)
			errs := make([]error, workers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, c := range caches {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					var ok bool
					out[i], ok, errs[i] = c.index(context.Background(), team, typ(i))
					if errs[i] == nil && !ok {
						errs[i] = fmt.Errorf("%s not mapped", typ(i))
					}
				}()
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			return out
		}
		got := race(func(i int) string { return fmt.Sprintf("type%d", i) })
		if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, []int{0, 1, 2, 3}) {
			t.Fatalf("round %d: four types got indexes %v; want 0..3, one each", round, got)
		}
		if got := race(func(int) string { return "shared" }); !slices.Equal(got, []int{4, 4, 4, 4}) {
			t.Fatalf("round %d: one type got indexes %v; want 4 everywhere", round, got)
		}
	}
}

// groupRow is a groups row as the test compares it.
type groupRow struct {
	props   map[string]any
	version int64
}

func (e *env) groups(t *testing.T) map[string]groupRow {
	t.Helper()
	rows, err := e.pg.Query(context.Background(), `SELECT group_type_index, group_key, group_properties, version FROM groups WHERE team_id = $1`, e.team)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]groupRow{}
	for rows.Next() {
		var (
			idx int
			key string
			g   groupRow
		)
		if err := rows.Scan(&idx, &key, &g.props, &g.version); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%d:%s", idx, key)] = g
	}
	return out
}

// eventGroups returns the $group_0..$group_4 columns of event i.
func (e *env) eventGroups(t *testing.T, i int) [maxGroupTypes]string {
	t.Helper()
	var g [maxGroupTypes]string
	err := e.ch.QueryRow(context.Background(), "SELECT `$group_0`, `$group_1`, `$group_2`, `$group_3`, `$group_4` FROM `"+e.chDB+
		"`.events FINAL WHERE toString(uuid) = ?", eventUUID(i)).Scan(&g[0], &g[1], &g[2], &g[3], &g[4])
	if err != nil {
		t.Fatalf("group columns of event %d: %v", i, err)
	}
	return g
}

// TestGroupsThroughTheWorker plays the SDKs' group calls through a worker:
// posthog-node's $groupidentify (distinct_id "$company_acme") creates the group and
// merges its properties and no person; $groups fill $group_N; a team's sixth type
// is stored without a column; a NUL in $group_set is stored as U+FFFD, as PostHog
// does. Replaying everything changes nothing.
func TestGroupsThroughTheWorker(t *testing.T) {
	e := newEnv(t, 1)
	p := e.producer(t)
	script := []event.Message{
		e.msg(1, "$company_acme", `{"event":"$groupidentify","properties":{"$group_type":"company","$group_key":"acme","$group_set":{"plan":"free","seats":5}}}`),
		e.msg(2, "$company_acme", `{"event":"$groupidentify","properties":{"$group_type":"company","$group_key":"acme","$group_set":{"plan":"pro"}}}`),
		e.msg(3, "user1", `{"event":"$pageview","properties":{"$groups":{"company":"acme","project":42}}}`),
		// posthog-js: a user's own $groupidentify, with $groups; no person write either
		e.msg(4, "user2", `{"event":"$groupidentify","properties":{"$group_type":"project","$group_key":"42","$group_set":{"name":"p"},"$groups":{"project":"42"},"$set":{"x":1}}}`),
		e.msg(5, "user1", `{"event":"$pageview","properties":{"$groups":{"company":"acme","project":"42","t3":"c","t4":"d","t5":"e","t6":"f"}}}`),
		e.msg(6, "$t7_g", `{"event":"$groupidentify","properties":{"$group_type":"t7","$group_key":"g","$group_set":{"a":1}}}`),
		e.msg(7, "$company_bad", `{"event":"$groupidentify","properties":{"$group_type":"company","$group_key":"bad","$group_set":{"name":"a\u0000b"}}}`),
		e.msg(8, "$company_acme", `{"event":"$groupidentify","properties":{"$group_type":"company","$group_key":"acme","$group_set":{"plan":"pro"}}}`),
	}
	e.produce(t, p, script...)
	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.Registerer = reg
	stop := runWorker(t, cfg)
	e.waitRows(t, uint64(len(script)), time.Minute)
	waitFor(t, 30*time.Second, "all offsets committed", func() (bool, string) {
		n := e.committed(t, cfg.Group)
		return n == int64(len(script)), "committed " + itoa(n)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	groups := e.groups(t)
	want := map[string]groupRow{
		"0:acme": {props: map[string]any{"plan": "pro", "seats": 5.0}, version: 1}, // created, changed once, then unchanged
		"1:42":   {props: map[string]any{"name": "p"}, version: 0},
		"0:bad":  {props: map[string]any{"name": "a\ufffdb"}, version: 0},
	}
	if !reflect.DeepEqual(groups, want) {
		t.Errorf("groups = %v, want %v", groups, want)
	}
	persons := e.personState(t)
	if len(persons.byDistinctID) != 1 || persons.byDistinctID["user1"] == "" {
		t.Errorf("persons by distinct_id = %v, want only user1's ($groupidentify creates none)", persons.byDistinctID)
	}
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL WHERE distinct_id = '$company_acme' AND person_id = toUUID('"+
		personUUID(e.team, "$company_acme").String()+"')"); n != 3 {
		t.Errorf("$company_acme events with its would-be person uuid: %d, want 3", n)
	}
	for i, wantCols := range map[int][maxGroupTypes]string{
		1: {},
		3: {"acme", "42"},
		4: {"", "42"},
		5: {"acme", "42", "c", "d", "e"},
		6: {},
	} {
		if got := e.eventGroups(t, i); got != wantCols {
			t.Errorf("event %d: $group_0..4 = %q, want %q", i, got, wantCols)
		}
	}
	if n := counterValue(t, reg, "shakedown_worker_group_types_unmapped_total"); n != 2 {
		t.Errorf("unmapped group types counted %v, want 2 (t6 in $groups, t7 in $groupidentify)", n)
	}
	e.readDeadLetters(t, 0) // nothing dead-lettered

	// A replay (redelivery after a crash) leaves groups, types and persons as they are.
	mappingBefore, err := groupTypes(context.Background(), e.pg, e.team)
	if err != nil {
		t.Fatal(err)
	}
	e.produce(t, p, script...)
	cfg.Group, cfg.Registerer = "replay", nil
	stop = runWorker(t, cfg)
	waitFor(t, time.Minute, "replay committed", func() (bool, string) {
		n := e.committed(t, "replay")
		return n == int64(2*len(script)), "committed " + itoa(n)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// version is left out: it counts applied changes, and the replayed free -> pro
	// changes properties and back again (event 8, a pure repeat, moved nothing above).
	again := e.groups(t)
	for k, g := range groups {
		if !reflect.DeepEqual(again[k].props, g.props) {
			t.Errorf("group %s properties changed on replay: %v -> %v", k, g.props, again[k].props)
		}
	}
	if len(again) != len(groups) {
		t.Errorf("groups on replay: %v, want %v", again, groups)
	}
	if after, err := groupTypes(context.Background(), e.pg, e.team); err != nil || !reflect.DeepEqual(after, mappingBefore) {
		t.Errorf("group types changed on replay: %v -> %v (%v)", mappingBefore, after, err)
	}
	if again := e.personState(t); !reflect.DeepEqual(again, persons) {
		t.Errorf("persons changed on replay: %v -> %v", persons, again)
	}
}

// TestParseGroups: $groups keys may be strings or numbers, junk is ignored rather
// than dead-lettered, and a $groupidentify is personless with its $group_set.
func TestParseGroups(t *testing.T) {
	now := time.Now()
	parse := func(data string) (parsedEvent, error) {
		v, err := event.Message{UUID: eventUUID(1), DistinctID: "d", Data: data, Token: "phc_x"}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return parseMessage(v, now)
	}
	p, err := parse(`{"event":"e","properties":{"$groups":{"project":7,"company":"acme","empty":"","obj":{"a":1},"":"x"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []groupRef{{"company", "acme"}, {"project", "7"}}; !reflect.DeepEqual(p.groups, want) || p.personless {
		t.Errorf("groups %v personless %v, want %v and a person", p.groups, p.personless, want)
	}
	if p, err := parse(`{"event":"e","properties":{"$groups":"acme"}}`); err != nil || p.groups != nil {
		t.Errorf("a $groups that is not an object: %v, %v; want it ignored", p.groups, err)
	}
	p, err = parse(`{"event":"$groupidentify","properties":{"$group_type":"company","$group_key":"acme","$set":{"a":1}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if gi := p.groupIdentify; gi == nil || gi.typ != "company" || gi.key != "acme" || string(gi.set) != "{}" || !p.personless || p.set != nil {
		t.Errorf("$groupidentify without $group_set: %+v personless=%v set=%s", gi, p.personless, p.set)
	}
	if p, err := parse(`{"event":"$groupidentify","properties":{"$group_type":"company"}}`); err != nil || p.groupIdentify != nil || !p.personless {
		t.Errorf("$groupidentify without a key: %+v, %v; want a personless event and no group", p.groupIdentify, err)
	}
	// A $group_set that is not an object is dropped (dead-lettered by the caller); the
	// event is stored and the group created with no properties set.
	if p, err := parse(`{"event":"$groupidentify","properties":{"$group_type":"company","$group_key":"acme","$group_set":[1]}}`); err != nil ||
		p.groupIdentify == nil || string(p.groupIdentify.set) != "{}" || len(p.dropped) != 1 || p.dropped[0].reason != reasonInvalidPersonUpdate {
		t.Errorf("a $group_set that is not an object: %+v, %v; want the group with {} and one dropped %s", p.groupIdentify, err, reasonInvalidPersonUpdate)
	}
}
