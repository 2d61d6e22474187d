package worker

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shakedown-dev/shakedown/reference/event"
	"github.com/shakedown-dev/shakedown/suites/e2e"
)

// pgOverride is one PostgreSQL person_overrides row as the tests compare them.
type pgOverride struct {
	target  string
	version int64
}

// pgOverrides returns e's team's PostgreSQL person_overrides: old uuid -> target, version.
func (e *env) pgOverrides(t *testing.T) map[string]pgOverride {
	t.Helper()
	rows, err := e.pg.Query(context.Background(), `SELECT old_person_uuid::text, override_person_uuid::text, version
		FROM person_overrides WHERE team_id = $1`, e.team)
	if err != nil {
		t.Fatalf("read PostgreSQL person_overrides: %v", err)
	}
	defer rows.Close()
	out := map[string]pgOverride{}
	for rows.Next() {
		var old string
		var o pgOverride
		if err := rows.Scan(&old, &o.target, &o.version); err != nil {
			t.Fatal(err)
		}
		out[old] = o
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// targets drops the versions of overrides.
func targets(overrides map[string]pgOverride) map[string]string {
	out := map[string]string{}
	for old, o := range overrides {
		out[old] = o.target
	}
	return out
}

// chOverrides returns e's team's ClickHouse person_overrides as readers see them:
// old id -> the override of the highest version.
func (e *env) chOverrides(t *testing.T) map[string]string {
	t.Helper()
	rows, err := e.ch.Query(context.Background(), "SELECT toString(old_person_id), toString(argMax(override_person_id, version)) FROM `"+
		e.chDB+"`.person_overrides WHERE team_id = "+itoa(e.team)+" GROUP BY old_person_id")
	if err != nil {
		t.Fatalf("read ClickHouse person_overrides: %v", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var old, target string
		if err := rows.Scan(&old, &target); err != nil {
			t.Fatal(err)
		}
		out[old] = target
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkOverridesFlat fails t unless every PostgreSQL override targets a live person and
// no live person is overridden: then one lookup resolves any chain of merges.
func (e *env) checkOverridesFlat(t *testing.T) {
	t.Helper()
	var dangling, overridden int
	err := e.pg.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM person_overrides o WHERE o.team_id = $1 AND NOT EXISTS
			(SELECT 1 FROM persons p WHERE p.team_id = o.team_id AND p.uuid = o.override_person_uuid)),
		(SELECT count(*) FROM person_overrides o JOIN persons p ON p.team_id = o.team_id AND p.uuid = o.old_person_uuid
			WHERE o.team_id = $1)`, e.team).Scan(&dangling, &overridden)
	if err != nil {
		t.Fatal(err)
	}
	if dangling != 0 || overridden != 0 {
		t.Errorf("person_overrides not flat: %d rows target a person that does not exist, %d override a live person: %v",
			dangling, overridden, e.pgOverrides(t))
	}
}

// resolvedPersons resolves the events of msgs through the suites/e2e harness function.
func (e *env) resolvedPersons(t *testing.T, msgs []event.Message) map[string]uuid.UUID {
	t.Helper()
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.UUID
	}
	got, err := e2e.ResolvePersons(context.Background(), e.ch, e.chDB, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("resolved %d of %d events: %v", len(got), len(msgs), got)
	}
	out := make(map[string]uuid.UUID, len(got))
	for ev, person := range got {
		id, err := uuid.Parse(person)
		if err != nil {
			t.Fatalf("event %s resolves to %q: %v", ev, person, err)
		}
		out[ev] = id
	}
	return out
}

// storedPersonID is events.person_id of the event msg, as ingested.
func (e *env) storedPersonID(t *testing.T, msg event.Message) string {
	t.Helper()
	var id string
	err := e.ch.QueryRow(context.Background(), "SELECT toString(person_id) FROM `"+e.chDB+"`.events FINAL WHERE uuid = toUUID('"+msg.UUID+"')").Scan(&id)
	if err != nil {
		t.Fatalf("person_id of event %s: %v", msg.UUID, err)
	}
	return id
}

// livePerson is the uuid of the person distinctID has in PostgreSQL.
func (e *env) livePerson(t *testing.T, distinctID string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := e.pg.QueryRow(context.Background(), `SELECT p.uuid FROM person_distinct_ids d JOIN persons p ON p.id = d.person_id
		WHERE d.team_id = $1 AND d.distinct_id = $2`, e.team, distinctID).Scan(&id)
	if err != nil {
		t.Fatalf("person of %q: %v", distinctID, err)
	}
	return id
}

// waitCommitted waits until group has committed n offsets of e's topic.
func (e *env) waitCommitted(t *testing.T, group string, n int) {
	t.Helper()
	waitFor(t, time.Minute, fmt.Sprintf("%d offsets committed", n), func() (bool, string) {
		got := e.committed(t, group)
		return got == int64(n), fmt.Sprintf("committed %d", got)
	})
}

// chainScript is pageviews of a, b and c, then a merged into b and b merged into c.
func (e *env) chainScript() (before, merges []event.Message) {
	before = []event.Message{
		e.msg(1, "a", `{"event":"$pageview"}`),
		e.msg(2, "a", `{"event":"$pageview"}`),
		e.msg(3, "b", `{"event":"$pageview"}`),
		e.msg(4, "b", `{"event":"$pageview"}`),
		e.msg(5, "c", `{"event":"$pageview"}`),
	}
	merges = []event.Message{
		e.msg(6, "b", `{"event":"$identify","properties":{"$anon_distinct_id":"a"}}`),
		e.msg(7, "c", `{"event":"$create_alias","properties":{"alias":"b"}}`),
	}
	return before, merges
}

// TestMergeChainOverridesResolveEventsToSurvivor merges a into b, flushes, then b into
// c: PostgreSQL and ClickHouse must hold the flattened overrides a -> c and b -> c, and
// every event stored before the merges must resolve, through the harness's
// ResolvePersons, to c's person, which exists.
func TestMergeChainOverridesResolveEventsToSurvivor(t *testing.T) {
	e := newEnv(t, 1) // one partition: the script's order is the processing order
	p := e.producer(t)
	before, merges := e.chainScript()
	a, b, c := personUUID(e.team, "a").String(), personUUID(e.team, "b").String(), personUUID(e.team, "c").String()
	cfg := e.config()
	stop := runWorker(t, cfg)

	e.produce(t, p, append(before, merges[0])...)
	e.waitCommitted(t, cfg.Group, 6) // offsets are committed after the overrides are in
	first := e.pgOverrides(t)
	if want := map[string]string{a: b}; !reflect.DeepEqual(targets(first), want) {
		t.Fatalf("after a into b: PostgreSQL overrides %v, want %v", first, want)
	}
	if got, want := e.chOverrides(t), map[string]string{a: b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a into b, with its offsets committed: ClickHouse overrides %v, want %v", got, want)
	}

	later := e.msg(8, "a", `{"event":"$pageview"}`)
	e.produce(t, p, merges[1], later)
	e.waitCommitted(t, cfg.Group, 8)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	pg := e.pgOverrides(t)
	if want := map[string]string{a: c, b: c}; !reflect.DeepEqual(targets(pg), want) {
		t.Errorf("PostgreSQL overrides %v, want a -> c and b -> c (%v)", pg, want)
	}
	if pg[a].version <= first[a].version {
		t.Errorf("re-pointing a -> b to a -> c kept version %d (was %d): ClickHouse would keep a -> b", pg[a].version, first[a].version)
	}
	if got, want := e.chOverrides(t), map[string]string{a: c, b: c}; !reflect.DeepEqual(got, want) {
		t.Errorf("ClickHouse overrides %v, want %v", got, want)
	}
	e.checkOverridesFlat(t)

	survivor := e.livePerson(t, "c")
	if survivor.String() != c {
		t.Fatalf("c's person is %s, want %s: the script did not merge as planned", survivor, c)
	}
	if got := e.storedPersonID(t, before[0]); got != a {
		t.Fatalf("a's first event is stored with person %s, want a's own %s: nothing to resolve", got, a)
	}
	all := append(append(before, merges...), later)
	for id, person := range e.resolvedPersons(t, all) {
		if person != survivor {
			t.Errorf("event %s resolves to %s, want the surviving person %s", id, person, survivor)
		}
	}
}

// TestReplayedMergeRequeuesOverrides kills the worker after its insert and before its
// commit, and removes the override rows from ClickHouse as if their insert had been
// lost. The restarted worker replays the merges, which change nothing in PostgreSQL,
// and must still write the overrides again.
func TestReplayedMergeRequeuesOverrides(t *testing.T) {
	e := newEnv(t, 1)
	p := e.producer(t)
	before, merges := e.chainScript()
	all := append(before, merges...)
	e.produce(t, p, all...)
	a, b, c := personUUID(e.team, "a").String(), personUUID(e.team, "b").String(), personUUID(e.team, "c").String()
	want := map[string]string{a: c, b: c}

	first, out := e.startWorkerProcess(t, 1000, envCrashAfter+"=1")
	err := first.Wait()
	if ws, ok := first.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the worker should have killed itself after its first insert, ended with %v\n%s", err, out)
	}
	if n := e.committed(t, "crash"); n != 0 {
		t.Fatalf("%d offsets committed before the kill: nothing will be replayed", n)
	}
	pgBefore := e.pgOverrides(t)
	if !reflect.DeepEqual(targets(pgBefore), want) {
		t.Fatalf("at the kill PostgreSQL overrides are %v, want %v: the first insert did not cover both merges\n%s", pgBefore, want, out)
	}
	if got := e.chOverrides(t); !reflect.DeepEqual(got, want) {
		t.Errorf("at the commit point ClickHouse overrides are %v, want %v: offsets would be committed before the overrides are in", got, want)
	}

	if err := e.ch.Exec(context.Background(), "TRUNCATE TABLE `"+e.chDB+"`.person_overrides"); err != nil {
		t.Fatal(err)
	}
	second, out2 := e.startWorkerProcess(t, 1000)
	e.finishRestarted(t, second, out2, len(all))

	if got := e.chOverrides(t); !reflect.DeepEqual(got, want) {
		t.Errorf("after the replay ClickHouse overrides are %v, want %v", got, want)
	}
	if pgAfter := e.pgOverrides(t); !reflect.DeepEqual(pgAfter, pgBefore) {
		t.Errorf("the replay changed PostgreSQL overrides:\nbefore %v\nafter  %v", pgBefore, pgAfter)
	}
	e.checkOverridesFlat(t)
	survivor := e.livePerson(t, "c")
	for id, person := range e.resolvedPersons(t, all) {
		if person != survivor {
			t.Errorf("event %s resolves to %s, want the surviving person %s", id, person, survivor)
		}
	}
}

// TestRecreatedPersonClearsItsOverride frees two merged-away distinct ids and sees
// their deterministic person uuids created again, once by get-or-create and once by a
// merge where neither side has a person: the override of each must go from PostgreSQL
// in the creating transaction, and ClickHouse must resolve the new events to the
// re-created persons, not to the persons they had been merged into.
func TestRecreatedPersonClearsItsOverride(t *testing.T) {
	e := newEnv(t, 1)
	p := e.producer(t)
	a, c := personUUID(e.team, "a"), personUUID(e.team, "c")
	x, z := personUUID(e.team, "x"), personUUID(e.team, "z")
	cfg := e.config()
	stop := runWorker(t, cfg)

	e.produce(t, p,
		e.msg(1, "a", `{"event":"$pageview"}`),
		e.msg(2, "c", `{"event":"$pageview"}`),
		e.msg(3, "c", `{"event":"$identify","properties":{"$anon_distinct_id":"a"}}`),
		e.msg(4, "x", `{"event":"$pageview"}`),
		e.msg(5, "z", `{"event":"$pageview"}`),
		e.msg(6, "z", `{"event":"$identify","properties":{"$anon_distinct_id":"x"}}`),
	)
	e.waitCommitted(t, cfg.Group, 6)
	if got, want := targets(e.pgOverrides(t)), map[string]string{a.String(): c.String(), x.String(): z.String()}; !reflect.DeepEqual(got, want) {
		t.Fatalf("PostgreSQL overrides %v, want %v", got, want)
	}

	// The worker never frees a distinct id; a person deletion would. Then the
	// deterministic uuids of a and x come back with their next persons.
	if _, err := e.pg.Exec(context.Background(), `DELETE FROM person_distinct_ids WHERE team_id = $1 AND distinct_id IN ('a', 'x')`, e.team); err != nil {
		t.Fatal(err)
	}
	again := []event.Message{
		e.msg(7, "a", `{"event":"$pageview"}`),                                             // get-or-create
		e.msg(8, "x", `{"event":"$identify","properties":{"$anon_distinct_id":"x-anon"}}`), // merge creating x's person
	}
	e.produce(t, p, again...)
	e.waitCommitted(t, cfg.Group, 8)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	if got := e.livePerson(t, "a"); got != a {
		t.Fatalf("a's new person is %s, want its deterministic uuid %s: nothing was re-created", got, a)
	}
	if got := e.livePerson(t, "x"); got != x {
		t.Fatalf("x's new person is %s, want its deterministic uuid %s: nothing was re-created", got, x)
	}
	// Only x-anon's personless uuid, which joined x's person, stays overridden.
	xAnon := personUUID(e.team, "x-anon").String()
	if got, want := targets(e.pgOverrides(t)), map[string]string{xAnon: x.String()}; !reflect.DeepEqual(got, want) {
		t.Errorf("PostgreSQL overrides %v after a and x were re-created, want %v", got, want)
	}
	e.checkOverridesFlat(t)
	chWant := map[string]string{a.String(): a.String(), x.String(): x.String(), xAnon: x.String()} // cleared: newest row points at itself
	if got := e.chOverrides(t); !reflect.DeepEqual(got, chWant) {
		t.Errorf("ClickHouse overrides %v, want the clearing rows %v", got, chWant)
	}
	got := e.resolvedPersons(t, again)
	if want := map[string]uuid.UUID{again[0].UUID: a, again[1].UUID: x}; !maps.Equal(got, want) {
		t.Errorf("new events resolve to %v, want the re-created persons %v", got, want)
	}
}

// TestBatchKeepsNewestOverride: a batch holding several versions of one override must
// insert the newest, whatever order they came in.
func TestBatchKeepsNewestOverride(t *testing.T) {
	b := newPendingBatch()
	old, first, second := uuid.New(), uuid.New(), uuid.New()
	b.addOverrides(personOverride{team: 1, old: old, override: second, version: 5})
	b.addOverrides(personOverride{team: 1, old: old, override: first, version: 3}, personOverride{team: 2, old: old, override: first, version: 1})
	got := map[int64]personOverride{}
	for _, r := range b.overrideRows() {
		got[r.team] = r
	}
	if len(got) != 2 || got[1].override != second || got[1].version != 5 || got[2].override != first {
		t.Errorf("batch overrides %v, want team 1 at version 5 and team 2's own row", got)
	}
	b.reset()
	if n := len(b.overrideRows()); n != 0 {
		t.Errorf("%d overrides left after reset", n)
	}
}

// TestPersonlessEventsResolveAfterIdentify: events sent with
// $process_person_profile false (posthog-js's identified_only mode) carry the
// uuid a person of their distinct id would get, and none exists; when that id
// is identified, or aliased, into a person, an override must point those
// events at it. The three ways an id without a person joins one are covered.
func TestPersonlessEventsResolveAfterIdentify(t *testing.T) {
	e := newEnv(t, 1)
	p := e.producer(t)
	personless := `{"event":"$pageview","properties":{"$process_person_profile":false}}`
	msgs := []event.Message{
		e.msg(1, "anon1", personless), // neither id has a person: identify creates one
		e.msg(2, "user1", `{"event":"$identify","properties":{"$anon_distinct_id":"anon1"}}`),
		e.msg(3, "user2", `{"event":"$pageview"}`), // user2 has a person, anon2 joins it
		e.msg(4, "anon2", personless),
		e.msg(5, "user2", `{"event":"$identify","properties":{"$anon_distinct_id":"anon2"}}`),
		e.msg(6, "anon3", `{"event":"$pageview"}`), // anon3 has a person, user3 joins it
		e.msg(7, "user3", personless),
		e.msg(8, "user3", `{"event":"$create_alias","properties":{"alias":"anon3"}}`),
	}
	cfg := e.config()
	stop := runWorker(t, cfg)
	e.produce(t, p, msgs...)
	e.waitCommitted(t, cfg.Group, len(msgs))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	resolved := e.resolvedPersons(t, msgs)
	for _, pair := range [][2]int{{0, 1}, {3, 2}, {6, 5}} {
		ev, owner := msgs[pair[0]], msgs[pair[1]]
		want := e.livePerson(t, owner.DistinctID)
		if got := resolved[ev.UUID]; got != want {
			t.Errorf("personless event of %s resolves to %s, want %s's person %s (stored person_id %s)",
				ev.DistinctID, got, owner.DistinctID, want, e.storedPersonID(t, ev))
		}
	}
	e.checkOverridesFlat(t)
}
