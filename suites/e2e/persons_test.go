package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/shakedown-dev/shakedown/internal/phclient"
	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/internal/stack/local/localtest"
	"github.com/shakedown-dev/shakedown/reference/schema"
)

// TestResolvePersonsFollowsOverrides runs ResolvePersons on the real clickhouse-server
// against rows written by hand: overrides folded by version, other teams' overrides
// ignored, a cleared override, an event without override, a missing event, a second
// chunk of uuids and a uuid given in upper case.
func TestResolvePersonsFollowsOverrides(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch, err := procs.StartClickHouse(ctx, procs.ClickHouseOptions{Dir: t.TempDir(), Databases: []string{"resolve"}})
	var missing *procs.MissingBinaryError
	if errors.As(err, &missing) {
		t.Skipf("no clickhouse-server here: %v", err)
	}
	if err != nil {
		t.Fatalf("start clickhouse-server: %v", err)
	}
	t.Cleanup(func() { _ = ch.Stop() })
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.NativeAddr},
		Auth: clickhouse.Auth{Username: ch.User, Password: ch.Password}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const db = "resolve"
	if err := schema.ApplyClickHouse(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	id := func(kind byte, n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, n) }
	ev := func(n int) string { return id(0xe, n) }
	a, b, c, d := id(0xa, 1), id(0xa, 2), id(0xa, 3), id(0xa, 4)
	events := [][3]any{ // uuid, team, person
		{ev(1), 1, a}, // a -> b, then a -> c: the newest version wins
		{ev(2), 1, b}, // b -> c
		{ev(3), 1, c}, // no override
		{ev(4), 2, a}, // team 2 has no override for a
		{ev(5), 1, d}, // d -> c, then cleared (d -> d)
	}
	// One insert per row, background merges stopped: every version stays in its own
	// part, unfolded, as a reader may find them.
	chExec(t, ch, "SYSTEM STOP MERGES "+db+".person_overrides")
	for _, e := range events {
		chExec(t, ch, fmt.Sprintf("INSERT INTO %s.events (uuid, team_id, event, person_id) VALUES ('%s', %d, 'x', '%s')", db, e[0], e[1], e[2]))
	}
	for _, o := range [][4]any{{1, a, b, 1}, {1, a, c, 3}, {1, b, c, 2}, {1, d, c, 4}, {1, d, d, 5}, {3, c, a, 6}} {
		chExec(t, ch, fmt.Sprintf("INSERT INTO "+db+".person_overrides (team_id, old_person_id, override_person_id, version) VALUES (%d, '%s', '%s', %d)", o[:]...))
	}

	uuids := []string{ev(1), ev(2), ev(3), ev(4), ev(5), ev(6)} // ev(6) was never stored
	for n := 100; len(uuids) < countChunk+10; n++ {
		uuids = append(uuids, ev(n)) // fill the first chunk with unstored uuids
	}
	upper := strings.ToUpper(ev(1))
	uuids = append(uuids, upper) // in the second chunk
	got, err := ResolvePersons(ctx, conn, db, uuids)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ev(1): c, ev(2): c, ev(3): c, ev(4): a, ev(5): d, upper: c}
	if len(got) != len(want) {
		t.Errorf("resolved %d events, want %d: %v", len(got), len(want), got)
	}
	for u, p := range want {
		if got[u] != p {
			t.Errorf("event %s resolves to %q, want %s", u, got[u], p)
		}
	}
}

// chExec executes one statement over ClickHouse's HTTP interface.
func chExec(t *testing.T, ch *procs.ClickHouse, sql string) {
	t.Helper()
	if _, err := ch.Query(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

// TestMergedPersonsResolveToSurvivor sends, through capture, events of two anonymous
// ids, merges the first into the second and the second into an identified user, and
// checks every event resolves to that user's person, one that exists in PostgreSQL,
// though the events stored before the merges name persons the merges deleted.
func TestMergedPersonsResolveToSurvivor(t *testing.T) {
	ctx := context.Background()
	s := localtest.Up(t, local.Options{Partitions: 1}) // one partition: merges happen in send order
	events := []phclient.Event{
		{Event: "$pageview", DistinctID: "anon-1"},
		{Event: "$pageview", DistinctID: "anon-1"},
		{Event: "$pageview", DistinctID: "anon-2"},
		{Event: "$pageview", DistinctID: "dana"},
		{Event: "$identify", DistinctID: "anon-2", Properties: map[string]any{"$anon_distinct_id": "anon-1"}},
		{Event: "$identify", DistinctID: "dana", Properties: map[string]any{"$anon_distinct_id": "anon-2"}},
		{Event: "$pageview", DistinctID: "anon-1"},
	}
	var uuids []string
	for i := range events {
		events[i].UUID = Generate(uint64(200+i), 1, 1)[0].UUID
		uuids = append(uuids, events[i].UUID)
		body, _ := phclient.EventBody(s.Endpoints.Token, events[i])
		req, _ := phclient.NewRequest(ctx, s.Endpoints.CaptureURL, "/e/", body, phclient.JSON)
		if status, msg, err := do(http.DefaultClient, req); err != nil || status != 200 {
			t.Fatalf("send %s of %s: %d %s %v", events[i].Event, events[i].DistinctID, status, msg, err)
		}
	}
	if _, err := WaitStored(ctx, s.ClickHouse, s.Database, uuids, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var survivor string
	if err := s.Postgres.QueryRow(ctx, `SELECT p.uuid::text FROM person_distinct_ids d JOIN persons p ON p.id = d.person_id
		WHERE d.distinct_id = 'dana'`).Scan(&survivor); err != nil {
		t.Fatalf("dana's person: %v", err)
	}
	// The premise, read raw on purpose: the first events were stored with a person
	// the merges deleted, so resolving them is not trivial.
	var stale uint64
	q := fmt.Sprintf("SELECT count() FROM `%s`.events FINAL WHERE distinct_id = 'anon-1' AND person_id != toUUID('%s')", s.Database, survivor)
	if err := s.ClickHouse.QueryRow(ctx, q).Scan(&stale); err != nil || stale == 0 {
		t.Fatalf("events of anon-1 stored with a person other than dana's: %d (%v); want some", stale, err)
	}

	// The overrides are written in the flush after the merge; give a slow flush time.
	var got map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if got, err = ResolvePersons(ctx, s.ClickHouse, s.Database, uuids); err != nil {
			t.Fatal(err)
		}
		wrong := 0
		for _, u := range uuids {
			if got[u] != survivor {
				wrong++
			}
		}
		if wrong == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events do not resolve to dana's person %s: %v", wrong, len(uuids), survivor, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
