package procs

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// wantMode fails unless path has exactly the permission bits want.
func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s has mode %o, want %o (nobody else may read it)", path, got, want)
	}
}

// wantNotRoot fails when the process runs as root.
func wantNotRoot(t *testing.T, name string, pid int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "Uid:" && f[2] == "0" {
			t.Errorf("%s (pid %d) runs as root: %s", name, pid, line)
		}
	}
}

func TestPostgresAppRoleIsLeastPrivilege(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{Database: "locked"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })

	wantMode(t, pg.Dir, 0o700)
	wantMode(t, pg.PasswordFile, 0o600)
	wantMode(t, filepath.Join(pg.Dir, "postgres.log"), 0o600)
	wantNotRoot(t, "postgres", pg.proc.Pid())

	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var user string
	var super bool
	if err := conn.QueryRow(ctx, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &super); err != nil {
		t.Fatal(err)
	}
	if user != pg.User || super {
		t.Fatalf("DSN connects as %q (superuser %v), want the non-superuser %q", user, super, pg.User)
	}
	// Migrations must work: the role owns the database and its public schema.
	if _, err := conn.Exec(ctx, "CREATE TABLE probe (x int)"); err != nil {
		t.Fatalf("the application role cannot create tables in its database: %v", err)
	}
	for _, stmt := range []string{
		"COPY probe FROM PROGRAM 'id'",
		"COPY probe TO PROGRAM 'cat'",
		"COPY probe FROM '/etc/passwd'",
		"SELECT pg_read_file('/etc/passwd')",
		"CREATE ROLE intruder SUPERUSER",
		"CREATE ROLE intruder",
		"CREATE DATABASE other",
		"ALTER ROLE " + pg.User + " SUPERUSER",
	} {
		_, err := conn.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: want permission denied (42501), got %v", stmt, err)
		}
	}

	// No trust: the superuser needs its password over TCP and over the socket.
	_, port, _ := net.SplitHostPort(pg.Addr)
	for _, dsn := range []string{
		"postgres://postgres@" + pg.Addr + "/postgres?sslmode=disable",
		"host=" + filepath.Join(pg.Dir, "sock") + " port=" + port + " user=postgres dbname=postgres",
		"postgres://" + pg.User + "@" + pg.Addr + "/locked?sslmode=disable",
	} {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := pgx.Connect(cctx, dsn)
		ccancel()
		if err == nil {
			c.Close(ctx)
			t.Errorf("%s: connected without a password", dsn)
		} else if !strings.Contains(err.Error(), "password") {
			t.Errorf("%s: want a password failure, got %v", dsn, err)
		}
	}
	admin, err := pg.AdminDSN("postgres")
	if err != nil {
		t.Fatal(err)
	}
	ac, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("superuser with the password from %s: %v", pg.PasswordFile, err)
	}
	ac.Close(ctx)
}

func TestClickHouseUsersAreLockedDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch, err := StartClickHouse(ctx, ClickHouseOptions{Dir: t.TempDir(), Databases: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Stop() })

	wantMode(t, ch.Dir, 0o700)
	wantMode(t, filepath.Join(ch.Dir, "config.xml"), 0o600)
	wantMode(t, filepath.Join(ch.Dir, "clickhouse-server.log"), 0o600)
	wantNotRoot(t, "clickhouse-server", ch.proc.Pid())
	if cfg, err := os.ReadFile(filepath.Join(ch.Dir, "config.xml")); err != nil || strings.Contains(string(cfg), ch.Password) || strings.Contains(string(cfg), ch.ReaderPassword) {
		t.Errorf("config.xml must hold only password hashes (read error: %v)", err)
	}

	as := func(user, password string) func(string) (string, error) {
		return func(sql string) (string, error) { return ch.QueryAs(ctx, user, password, sql) }
	}
	app, reader := as(ch.User, ch.Password), as(ch.ReaderUser, ch.ReaderPassword)
	mustOK := func(q func(string) (string, error), sql string) {
		t.Helper()
		if _, err := q(sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustFail := func(who string, q func(string) (string, error), sql, want string) {
		t.Helper()
		if _, err := q(sql); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %s: want an error with %q, got %v", who, sql, want, err)
		}
	}
	mustOK(app, "CREATE DATABASE IF NOT EXISTS app")
	mustOK(app, "CREATE TABLE app.t (x UInt8) ENGINE = MergeTree ORDER BY x")
	mustOK(app, "INSERT INTO app.t VALUES (1)")
	if out, err := reader("SELECT count() FROM app.t"); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("reader: count = %q, %v", out, err)
	}

	mustFail("no user", as("", ""), "SELECT 1", "Unknown user default")
	mustFail("default", as("default", ""), "SELECT 1", "Unknown user default")
	mustFail("app", as(ch.User, "wrong"), "SELECT 1", "password")
	mustFail("app", app, "CREATE DATABASE other", "Access denied")
	mustFail("app", app, "DROP DATABASE default", "Access denied")
	mustFail("app", app, "SELECT * FROM file('../config.xml', TSV, 'x String')", "")
	for _, sql := range []string{
		"DROP TABLE app.t",
		"INSERT INTO app.t VALUES (2)",
		"SELECT * FROM url('http://127.0.0.1:1/', TSV, 'x String')",
		"SELECT * FROM remote('127.0.0.1', system.one)",
		"SELECT * FROM file('x', TSV, 'x String')",
		"SELECT 1 SETTINGS readonly = 0",
		"SYSTEM SHUTDOWN",
	} {
		mustFail("reader", reader, sql, "readonly mode")
	}
	mustFail("reader", reader, "SELECT count() FROM default.events", "Access denied")

	// clickhouse-go (what the stack and suites use) works with the reader's credentials.
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.NativeAddr},
		Auth: clickhouse.Auth{Database: "app", Username: ch.ReaderUser, Password: ch.ReaderPassword}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("clickhouse-go as reader: count = %d, %v", n, err)
	}
	if err := conn.Exec(ctx, "DROP TABLE t"); err == nil {
		t.Error("clickhouse-go as reader: DROP TABLE succeeded")
	}
}
