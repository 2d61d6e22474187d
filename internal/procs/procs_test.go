package procs

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestClickHouseStartsQueriesAndStops(t *testing.T) {
	ctx := context.Background()
	ch, err := StartClickHouse(ctx, ClickHouseOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ch.Version, "1") && !strings.HasPrefix(ch.Version, "2") {
		t.Fatalf("unexpected version %q", ch.Version)
	}
	out, err := ch.Query(ctx, "SELECT 40 + 2")
	if err != nil || strings.TrimSpace(out) != "42" {
		t.Fatalf("SELECT 40+2 = %q, %v", out, err)
	}
	if _, err := ch.Query(ctx, "SELECT no_such_column"); err == nil {
		t.Fatal("a bad query must return an error")
	}
	if err := ch.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Query(ctx, "SELECT 1"); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

func TestPostgresStartsWithDatabaseAndStops(t *testing.T) {
	ctx := context.Background()
	pg, err := StartPostgres(ctx, PostgresOptions{Database: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "probe" {
		t.Fatalf("current_database = %q, %v", db, err)
	}
	conn.Close(ctx)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pg.Dir); !os.IsNotExist(err) {
		t.Fatalf("Stop left %s behind (%v)", pg.Dir, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c, err := pgx.Connect(cctx, pg.DSN); err == nil {
		c.Close(ctx)
		t.Fatal("postgres still accepts connections after Stop")
	}
}

func TestMissingBinaryNamesTheFix(t *testing.T) {
	_, err := lookBinary("no-such-server-binary", "no-such-package")
	var missing *MissingBinaryError
	if !errors.As(err, &missing) {
		t.Fatalf("want MissingBinaryError, got %v", err)
	}
	if !strings.Contains(err.Error(), "make deps") || !strings.Contains(err.Error(), "apt-get install no-such-package") {
		t.Fatalf("error does not name the fix: %v", err)
	}
}
