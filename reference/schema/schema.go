// Package schema holds the reference stack's ClickHouse and PostgreSQL migrations as
// embedded SQL and applies them idempotently: running them twice, or from two
// processes at once, leaves the same schema.
package schema

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed postgres/*.sql clickhouse/*.sql
var files embed.FS

// postgresLockID is the advisory lock key that serialises concurrent PostgreSQL migrations.
const postgresLockID = 0x5ea4ed0

// Migration is one embedded SQL file.
type Migration struct {
	// Version is the file name without extension, e.g. "0001_init".
	Version string
	// SQL is the file's content.
	SQL string
}

// Postgres returns the PostgreSQL migrations in order.
func Postgres() ([]Migration, error) { return load("postgres") }

// ClickHouse returns the ClickHouse migrations in order. Their SQL names the database
// as {db}; ApplyClickHouse substitutes it.
func ClickHouse() ([]Migration, error) { return load("clickhouse") }

func load(dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, fmt.Errorf("read embedded %s migrations: %w", dir, err)
	}
	var out []Migration
	for _, e := range entries {
		b, err := files.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s/%s: %w", dir, e.Name(), err)
		}
		out = append(out, Migration{Version: strings.TrimSuffix(e.Name(), ".sql"), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// ApplyPostgres applies every PostgreSQL migration not yet recorded in
// schema_migrations, each in its own transaction, under an advisory lock.
func ApplyPostgres(ctx context.Context, pool *pgxpool.Pool) error {
	migrations, err := Postgres()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres migrations: acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", postgresLockID); err != nil {
		return fmt.Errorf("postgres migrations: take advisory lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", postgresLockID) //nolint:errcheck // released with the session anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres migrations: create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var done bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres migration %s: %w", m.Version, err)
		}
	}
	return nil
}

// ApplyClickHouse creates database if needed and applies every ClickHouse migration.
// ClickHouse has no transactional DDL, so every statement is written to be safe to
// repeat (IF NOT EXISTS) and all of them run each time.
func ApplyClickHouse(ctx context.Context, conn driver.Conn, database string) error {
	if database == "" {
		database = "default"
	}
	migrations, err := ClickHouse()
	if err != nil {
		return err
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(database)); err != nil {
		return fmt.Errorf("clickhouse: create database %s: %w", database, err)
	}
	for _, m := range migrations {
		for _, stmt := range splitStatements(strings.ReplaceAll(m.SQL, "{db}", quoteIdent(database))) {
			if err := execClickHouse(ctx, conn, stmt); err != nil {
				return fmt.Errorf("clickhouse migration %s: %w", m.Version, err)
			}
		}
	}
	return nil
}

// addColumnIfNotExists matches "ALTER TABLE db.table ADD COLUMN IF NOT EXISTS name ...",
// one column per statement. Groups: 1 the statement up to ADD COLUMN, 2 the database,
// 3 the table, 4 the column name, 5 the rest (type, default).
var addColumnIfNotExists = regexp.MustCompile("(?is)^(ALTER\\s+TABLE\\s+(`(?:[^`\\\\]|\\\\.)+`|\\w+)\\.(`[^`]+`|\\w+)\\s+ADD\\s+COLUMN\\s+)" +
	"IF\\s+NOT\\s+EXISTS\\s+(`[^`]+`|\\w+)(\\s.*)$")

// execClickHouse runs one migration statement. ClickHouse 18.16 does not parse
// ADD COLUMN IF NOT EXISTS, so that clause is done here, the same way on every
// version: the column is added without it when system.columns lacks it. A failed
// add is forgiven when the column exists after all (a concurrent migration added it).
func execClickHouse(ctx context.Context, conn driver.Conn, stmt string) error {
	m := addColumnIfNotExists.FindStringSubmatch(stmt)
	if m == nil {
		return conn.Exec(ctx, stmt)
	}
	db, table, column := unquoteIdent(m[2]), unquoteIdent(m[3]), unquoteIdent(m[4])
	exists, err := columnExists(ctx, conn, db, table, column)
	if err != nil || exists {
		return err
	}
	addErr := conn.Exec(ctx, m[1]+m[4]+m[5])
	if addErr == nil {
		return nil
	}
	if exists, err := columnExists(ctx, conn, db, table, column); err == nil && exists {
		return nil
	}
	return fmt.Errorf("add column %s to %s.%s: %w", column, db, table, addErr)
}

// columnExists says whether database.table has column, from system.columns.
func columnExists(ctx context.Context, conn driver.Conn, database, table, column string) (bool, error) {
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		database, table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up column %s of %s.%s in system.columns: %w", column, database, table, err)
	}
	return n > 0, nil
}

// splitStatements cuts a SQL file at semicolons that end a line, dropping comment-only
// chunks; the driver sends one statement at a time.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if stripComments(s) != "" {
			out = append(out, s)
		}
	}
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			flush()
		}
	}
	flush()
	for i, s := range out {
		out[i] = strings.TrimSuffix(s, ";")
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
			b.WriteString(t)
		}
	}
	return b.String()
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "\\`") + "`" }

// unquoteIdent undoes quoteIdent; a bare identifier is returned as it is.
func unquoteIdent(s string) string {
	if len(s) < 2 || s[0] != '`' || s[len(s)-1] != '`' {
		return s
	}
	return strings.ReplaceAll(s[1:len(s)-1], "\\`", "`")
}
