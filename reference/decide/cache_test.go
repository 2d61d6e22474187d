package decide

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

func TestInactiveAndDeletedFlagsAbsent(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	all := `{"groups":[{"properties":[],"rollout_percentage":100}]}`
	addFlags(t, db, teamID,
		flagRow{key: "live", filters: all},
		flagRow{key: "off", filters: all, inactive: true},
		flagRow{key: "gone", filters: all, deleted: true},
	)
	h, _ := newHandler(t, db)
	got := flagsFor(t, h, token, "u", nil)
	if got["live"] != true {
		t.Errorf("live = %v, want true", got["live"])
	}
	for _, k := range []string{"off", "gone"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s present (%v); inactive and deleted flags must be absent", k, v)
		}
	}
	if len(got) != 1 {
		t.Errorf("featureFlags = %v, want only live", got)
	}
}

func TestRefreshPicksUpChanges(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	h, _ := newHandler(t, db)
	if got := flagsFor(t, h, token, "u", nil); len(got) != 0 {
		t.Fatalf("flags before any were created: %v", got)
	}
	addFlags(t, db, teamID, flagRow{key: "new", filters: `{"groups":[{"properties":[],"rollout_percentage":100}]}`})
	if _, ok := flagsFor(t, h, token, "u", nil)["new"]; ok {
		t.Fatal("flag visible before a refresh; the cache is not a cache")
	}
	if err := h.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := flagsFor(t, h, token, "u", nil)["new"]; got != true {
		t.Fatalf("after Refresh new = %v, want true", got)
	}

	// A team created after the load is unknown until the next refresh.
	_, token2 := newTeam(t, db)
	if a := call(t, h, map[string]any{"token": token2, "distinct_id": "u"}); a.status != 401 {
		t.Fatalf("unknown token answered %d, want 401", a.status)
	}
	if _, err := db.Exec(context.Background(), `UPDATE feature_flags SET active = false WHERE team_id = $1`, teamID); err != nil {
		t.Fatal(err)
	}
	// Run refreshes on its own.
	h.cfg.RefreshInterval = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, stillThere := flagsFor(t, h, token, "u", nil)["new"]
		a := call(t, h, map[string]any{"token": token2, "distinct_id": "u"})
		if !stillThere && a.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run did not refresh within 10 s (deactivated flag present: %v, new team status %d)", stillThere, a.status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestFailedRefreshKeepsLastGoodCache(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID, flagRow{key: "kept", filters: `{"groups":[{"properties":[],"rollout_percentage":100}]}`})
	own, err := pgxpool.New(context.Background(), testDB.pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := New(context.Background(), Config{Postgres: own, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	own.Close() // the database is now unreachable for h
	if err := h.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh on a closed pool succeeded")
	}
	if got := flagsFor(t, h, token, "u", nil)["kept"]; got != true {
		t.Fatalf("after a failed refresh kept = %v, want the cached true", got)
	}
	if n := value(t, h.metrics.refreshes.WithLabelValues("error")); n != 1 {
		t.Errorf("refresh errors counted %v, want 1", n)
	}
	if n := value(t, h.metrics.refreshes.WithLabelValues("ok")); n != 1 {
		t.Errorf("successful refreshes counted %v, want 1 (the initial load)", n)
	}
}

func TestNewFailsWithoutDatabase(t *testing.T) {
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Fatal("New without Postgres succeeded")
	}
	own, err := pgxpool.New(context.Background(), pool(t).Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	own.Close()
	if _, err := New(context.Background(), Config{Postgres: own}); err == nil {
		t.Fatal("New on a closed pool succeeded; the initial load must fail loudly")
	}
}

func TestPersonLookupFailureLeavesOutOnlyFlagsThatNeedIt(t *testing.T) {
	db := pool(t)
	teamID, token := newTeam(t, db)
	addFlags(t, db, teamID,
		flagRow{key: "everyone", filters: `{"groups":[{"properties":[],"rollout_percentage":100}]}`},
		flagRow{key: "needs-email", filters: `{"groups":[{"properties":[{"key":"email","value":"@x.com","operator":"icontains","type":"person"}]}]}`},
		flagRow{key: "needs-plan", filters: `{"groups":[{"properties":[{"key":"plan","value":"pro","type":"person"}]}]}`},
	)
	own, err := pgxpool.New(context.Background(), testDB.pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), Config{Postgres: own})
	if err != nil {
		t.Fatal(err)
	}
	own.Close()
	a := call(t, h, map[string]any{"token": token, "distinct_id": "u", "person_properties": map[string]any{"plan": "pro"}})
	got := a.flags(t)
	if got["everyone"] != true || got["needs-plan"] != true {
		t.Errorf("flags answerable without the database: %v", got)
	}
	if _, ok := got["needs-email"]; ok {
		t.Errorf("needs-email answered %v although the person could not be read", got["needs-email"])
	}
	if a.body["errorsWhileComputingFlags"] != true {
		t.Errorf("errorsWhileComputingFlags = %v, want true", a.body["errorsWhileComputingFlags"])
	}
	if n := value(t, h.metrics.personLookups.WithLabelValues("error")); n != 1 {
		t.Errorf("person lookup errors counted %v, want 1", n)
	}
}
