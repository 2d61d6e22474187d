package schema

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

// TestPersonOverridesTables applies both migrations twice on the real servers and checks
// person_overrides: in PostgreSQL one row per old person, never a person overriding
// itself, versions from the sequence; in ClickHouse a ReplacingMergeTree on version
// keyed by (team_id, old_person_id).
func TestPersonOverridesTables(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var missing *procs.MissingBinaryError

	pg, err := procs.StartPostgres(ctx, procs.PostgresOptions{Database: "overrides_test"})
	if errors.As(err, &missing) {
		t.Skipf("no PostgreSQL here: %v", err)
	}
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	pool, err := pgxpool.New(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for range 2 {
		if err := ApplyPostgres(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	var team int64
	if err := pool.QueryRow(ctx, "INSERT INTO teams (name, api_token) VALUES ('t', 'phc_t') RETURNING id").Scan(&team); err != nil {
		t.Fatal(err)
	}
	const a, b = "0a000000-0000-4000-8000-000000000000", "0b000000-0000-4000-8000-000000000000"
	insert := func(old, target string) (int64, error) {
		var v int64
		err := pool.QueryRow(ctx, `INSERT INTO person_overrides (team_id, old_person_uuid, override_person_uuid)
			VALUES ($1, $2, $3) RETURNING version`, team, old, target).Scan(&v)
		return v, err
	}
	v1, err := insert(a, b)
	if err != nil {
		t.Fatalf("insert an override: %v", err)
	}
	v2, err := insert(b, a)
	if err != nil || v2 <= v1 {
		t.Errorf("second override: version %d after %d, %v; want a growing version", v2, v1, err)
	}
	for _, c := range []struct {
		old, target, code string
	}{
		{a, b, "23505"}, // unique_violation: one row per old person
		{a, a, "23514"}, // check_violation: a person never overrides itself
	} {
		var pgErr *pgconn.PgError
		if _, err := insert(c.old, c.target); !errors.As(err, &pgErr) || pgErr.Code != c.code {
			t.Errorf("insert %s -> %s: %v, want SQLSTATE %s", c.old, c.target, err, c.code)
		}
	}

	ch, err := procs.StartClickHouse(ctx, procs.ClickHouseOptions{Dir: t.TempDir(), Databases: []string{"overrides"}})
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
	for range 2 {
		if err := ApplyClickHouse(ctx, conn, "overrides"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ch.Query(ctx, "SELECT engine_full FROM system.tables WHERE database = 'overrides' AND name = 'person_overrides'")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "ReplacingMergeTree(version) ORDER BY (team_id, old_person_id)") {
		t.Errorf("ClickHouse person_overrides engine: %q, want ReplacingMergeTree(version) ORDER BY (team_id, old_person_id)", got)
	}
}
