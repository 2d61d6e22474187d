package schema

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

func TestAddColumnIfNotExistsIsRecognised(t *testing.T) {
	for _, c := range []struct {
		stmt               string
		db, table, col, at string // at: the statement run when the column is missing
	}{
		{"ALTER TABLE `my db`.events ADD COLUMN IF NOT EXISTS `$group_0` String DEFAULT ''",
			"my db", "events", "$group_0", "ALTER TABLE `my db`.events ADD COLUMN `$group_0` String DEFAULT ''"},
		{"alter table d.t add column if not exists c UInt8",
			"d", "t", "c", "alter table d.t add column c UInt8"},
		{"ALTER TABLE `a\\`b`.t ADD COLUMN IF NOT EXISTS c String",
			"a`b", "t", "c", "ALTER TABLE `a\\`b`.t ADD COLUMN c String"},
	} {
		m := addColumnIfNotExists.FindStringSubmatch(c.stmt)
		if m == nil {
			t.Errorf("%q not recognised", c.stmt)
			continue
		}
		if db, table, col := unquoteIdent(m[2]), unquoteIdent(m[3]), unquoteIdent(m[4]); db != c.db || table != c.table || col != c.col {
			t.Errorf("%q: database %q table %q column %q, want %q %q %q", c.stmt, db, table, col, c.db, c.table, c.col)
		}
		if got := m[1] + m[4] + m[5]; got != c.at {
			t.Errorf("%q runs as %q, want %q", c.stmt, got, c.at)
		}
	}
	if addColumnIfNotExists.MatchString("ALTER TABLE d.t ADD COLUMN c String") {
		t.Error("a plain ADD COLUMN must run as written")
	}
}

// TestClickHouseMigrationsRepeat applies the ClickHouse migrations on the real server
// three times, twice at once, as every worker and capture start does: the group
// columns are added once, with their default, and nothing fails.
func TestClickHouseMigrationsRepeat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	ch, err := procs.StartClickHouse(ctx, procs.ClickHouseOptions{Dir: dir, Databases: []string{"repeat"}})
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

	if err := ApplyClickHouse(ctx, conn, "repeat"); err != nil {
		t.Fatalf("first apply: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = ApplyClickHouse(ctx, conn, "repeat") }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("repeated apply: %v", err)
	}
	out, err := ch.Query(ctx, "SELECT name, default_expression FROM system.columns WHERE database = 'repeat' AND table = 'events' AND name LIKE '$group_%' ORDER BY name FORMAT TSV")
	if err != nil {
		t.Fatal(err)
	}
	want := "$group_0\t\\'\\'\n$group_1\t\\'\\'\n$group_2\t\\'\\'\n$group_3\t\\'\\'\n$group_4\t\\'\\'\n"
	if out != want {
		t.Errorf("group columns:\n%s\nwant:\n%s", out, want)
	}
	if _, err := ch.Query(ctx, "INSERT INTO repeat.events (uuid, team_id, event, `$group_1`) VALUES ('6a1f0b1e-0000-4000-8000-000000000001', 1, 'e', 'acme')"); err != nil {
		t.Fatal(err)
	}
	if got, err := ch.Query(ctx, "SELECT `$group_0`, `$group_1` FROM repeat.events FORMAT TSV"); err != nil || got != "\tacme\n" {
		t.Errorf("group columns of an inserted row: %q, %v; want an empty $group_0 and $group_1 acme", got, err)
	}
}

// TestPostgresGroupTables checks the group tables' constraints: five indexes per
// team, one index per type.
func TestPostgresGroupTables(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := procs.StartPostgres(ctx, procs.PostgresOptions{Database: "schema_test"})
	var missing *procs.MissingBinaryError
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
	insert := func(typ string, index int) error {
		_, err := pool.Exec(ctx, "INSERT INTO group_type_mapping (team_id, group_type, group_type_index) VALUES ($1, $2, $3)", team, typ, index)
		return err
	}
	if err := insert("company", 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ   string
		index int
		code  string
	}{
		{"project", 5, "23514"}, // check_violation: indexes are 0..4
		{"project", 0, "23505"}, // unique_violation: index taken
		{"company", 1, "23505"}, // unique_violation: type mapped already
	} {
		var pgErr *pgconn.PgError
		if err := insert(c.typ, c.index); !errors.As(err, &pgErr) || pgErr.Code != c.code {
			t.Errorf("insert %s at %d: %v, want SQLSTATE %s", c.typ, c.index, err, c.code)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO groups (team_id, group_type_index, group_key, group_properties) VALUES ($1, 0, 'acme', '{"plan":"pro"}')`, team); err != nil {
		t.Fatalf("insert a group: %v", err)
	}
}
