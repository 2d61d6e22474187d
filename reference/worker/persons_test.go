package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// personState is PostgreSQL's persons as the test compares them.
type personState struct {
	byDistinctID map[string]string // distinct_id -> person uuid
	// persons maps person uuid -> "identified=.. properties=..". version is left out: it
	// counts applied changes, and a replayed intermediate $set changes properties
	// and back again before the replay ends in the same properties.
	persons map[string]string
}

func (e *env) personState(t *testing.T) personState {
	t.Helper()
	ctx := context.Background()
	s := personState{byDistinctID: map[string]string{}, persons: map[string]string{}}
	rows, err := e.pg.Query(ctx, `SELECT d.distinct_id, p.uuid::text FROM person_distinct_ids d JOIN persons p ON p.id = d.person_id WHERE d.team_id = $1`, e.team)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var did, id string
		if err := rows.Scan(&did, &id); err != nil {
			t.Fatal(err)
		}
		s.byDistinctID[did] = id
	}
	rows.Close()
	rows, err = e.pg.Query(ctx, `SELECT uuid::text, is_identified, properties::text FROM persons WHERE team_id = $1`, e.team)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, props string
		var ident bool
		if err := rows.Scan(&id, &ident, &props); err != nil {
			t.Fatal(err)
		}
		s.persons[id] = fmt.Sprintf("identified=%v properties=%s", ident, props)
	}
	rows.Close()
	return s
}

// TestPersonsFollowIdentifyAliasAndMerges plays a script of $identify / $create_alias /
// $set / $set_once, checks persons equal the distinct people, then replays the whole
// script and checks nothing changed.
func TestPersonsFollowIdentifyAliasAndMerges(t *testing.T) {
	e := newEnv(t, 1) // one partition: the script's order is the processing order
	p := e.producer(t)
	i := 0
	ev := func(did, data string) event.Message { i++; return e.msg(i, did, data) }
	script := []event.Message{
		ev("anon1", `{"event":"$pageview","properties":{"$set":{"plan":"free"}}}`),
		ev("user1", `{"event":"$pageview"}`),
		// both have persons: anon1's person merges into user1's
		ev("user1", `{"event":"$identify","properties":{"$anon_distinct_id":"anon1","$set":{"email":"u1@example.com"}}}`),
		ev("anon2", `{"event":"$pageview"}`),
		// user2 has no person: it joins anon2's
		ev("user2", `{"event":"$identify","properties":{"$anon_distinct_id":"anon2"}}`),
		// alias1 has no person: it joins user1's
		ev("user1", `{"event":"$create_alias","properties":{"alias":"alias1"}}`),
		// neither has a person: one is made for both
		ev("user3", `{"event":"$identify","properties":{"$anon_distinct_id":"anon3"}}`),
		ev("anon1", `{"event":"$pageview","$set":{"plan":"pro"}}`),
		ev("user1", `{"event":"$pageview","properties":{"$set_once":{"plan":"never","first_seen":"x"}}}`),
		ev("user4", `{"event":"$pageview","properties":{"$set":{"company":"acme"}}}`),
		// both have persons: user2's person (user2, anon2) merges into user4's
		ev("user4", `{"event":"$create_alias","properties":{"alias":"user2"}}`),
	}
	e.produce(t, p, script...)

	cfg := e.config()
	stop := runWorker(t, cfg)
	e.waitRows(t, uint64(len(script)), time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := e.personState(t)

	if len(got.persons) != 3 {
		t.Fatalf("persons = %d, want 3 (user1, user3, user4): %v", len(got.persons), got.persons)
	}
	groups := [][]string{{"user1", "anon1", "alias1"}, {"user3", "anon3"}, {"user4", "user2", "anon2"}}
	seen := map[string]bool{}
	for _, g := range groups {
		id := got.byDistinctID[g[0]]
		if id == "" || seen[id] {
			t.Fatalf("%s has person %q, want its own person: %v", g[0], id, got.byDistinctID)
		}
		seen[id] = true
		for _, did := range g[1:] {
			if got.byDistinctID[did] != id {
				t.Errorf("%s -> %s, want %s's person %s", did, got.byDistinctID[did], g[0], id)
			}
		}
	}
	if len(got.byDistinctID) != 8 {
		t.Errorf("distinct ids = %d, want 8: %v", len(got.byDistinctID), got.byDistinctID)
	}
	var props map[string]any
	var identified bool
	if err := e.pg.QueryRow(context.Background(), `SELECT p.properties, p.is_identified FROM persons p
		JOIN person_distinct_ids d ON d.person_id = p.id WHERE d.distinct_id = 'user1'`).Scan(&props, &identified); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"plan": "pro", "email": "u1@example.com", "first_seen": "x"}
	if !reflect.DeepEqual(props, want) || !identified {
		b, _ := json.Marshal(props)
		t.Errorf("user1's person: properties %s identified=%v, want %v identified=true", b, identified, want)
	}
	// Events carry the person they resolved to at ingestion.
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL WHERE event = '$create_alias' AND distinct_id = 'user1' AND toString(person_id) = '"+got.byDistinctID["user1"]+"'"); n != 1 {
		t.Errorf("$create_alias row for user1 with user1's person: %d, want 1", n)
	}

	// Replaying every message (a redelivery after a crash) must leave the same state.
	e.produce(t, p, script...)
	cfg.Group = "replay" // a new group reads the topic from the start again
	stop = runWorker(t, cfg)
	waitFor(t, time.Minute, "replay committed", func() (bool, string) {
		n := e.committed(t, "replay")
		return n == int64(2*len(script)), fmt.Sprintf("committed %d", n)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if again := e.personState(t); !reflect.DeepEqual(again, got) {
		t.Errorf("state changed on replay:\nbefore %+v\nafter  %+v", got, again)
	}
	if n := e.chCount(t, "SELECT count() FROM {db}.events FINAL"); n != uint64(len(script)) {
		t.Errorf("events FINAL = %d after replay, want %d", n, len(script))
	}
}

// TestPersonlessEventsCreateNoPerson: posthog-js's default identified_only mode
// sends anonymous events with $process_person_profile false; they must create
// and update no person, and carry the person their distinct_id already has.
func TestPersonlessEventsCreateNoPerson(t *testing.T) {
	e := newEnv(t, 1)
	p := e.producer(t)
	script := []event.Message{
		e.msg(1, "known", `{"event":"$pageview","properties":{"$set":{"plan":"pro"}}}`),
		e.msg(2, "anon", `{"event":"$pageview","properties":{"$process_person_profile":false,"$set":{"plan":"free"}}}`),
		e.msg(3, "known", `{"event":"$pageview","properties":{"$process_person_profile":false,"$set":{"plan":"free"}}}`),
		e.msg(4, "anon2", `{"event":"$identify","properties":{"$process_person_profile":false,"$anon_distinct_id":"anon"}}`),
	}
	e.produce(t, p, script...)
	stop := runWorker(t, e.config())
	e.waitRows(t, uint64(len(script)), time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := e.personState(t)
	if len(got.persons) != 1 || len(got.byDistinctID) != 1 || got.byDistinctID["known"] == "" {
		t.Fatalf("want only known's person, got %v %v", got.byDistinctID, got.persons)
	}
	if want := `identified=false properties={"plan": "pro"}`; got.persons[got.byDistinctID["known"]] != want {
		t.Errorf("a personless $set changed the person: %s", got.persons[got.byDistinctID["known"]])
	}
	rows, err := e.ch.Query(context.Background(), "SELECT distinct_id, toString(person_id) FROM `"+e.chDB+"`.events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var did, person string
		if err := rows.Scan(&did, &person); err != nil {
			t.Fatal(err)
		}
		want := got.byDistinctID[did]
		if want == "" {
			want = personUUID(e.team, did).String()
		}
		if person != want {
			t.Errorf("event of %s has person %s, want %s", did, person, want)
		}
	}
}
