package procs

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// Parent is where the cluster's own directory (data, socket, log) is made; default
	// os.TempDir(). When running as root it must be traversable by user postgres.
	// Stop removes the directory.
	Parent string
	// Database is created after start-up (default "shakedown"), owned by User.
	Database string
	// User is the application role (default "shakedown"): LOGIN with a generated
	// password, NOSUPERUSER NOCREATEDB NOCREATEROLE, owner of Database.
	User string
	// StartTimeout bounds the wait for connections (default 30 s).
	StartTimeout time.Duration
}

// Postgres is a running PostgreSQL child process on loopback. Every connection, also
// over the local socket, needs a password (scram-sha-256).
type Postgres struct {
	// Addr is host:port.
	Addr string
	// User is the application role DSN connects as (not a superuser).
	User string
	// DSN connects to Database as User, with its password.
	DSN string
	// Dir is the cluster's directory (data, socket, log; mode 0700).
	Dir string
	// PasswordFile holds the superuser's password (mode 0600, in Dir); AdminDSN reads it.
	PasswordFile string
	password     string
	proc         *Process
}

// superuserPasswordFile is the name of the file in the cluster's directory holding the
// password of the superuser "postgres"; initdb reads it (--pwfile).
const superuserPasswordFile = "superuser.password"

// AdminDSN connects to database as the superuser "postgres", with the password read
// from PasswordFile. Only for setting up what the application role may not do itself
// (e.g. CREATE DATABASE ... OWNER p.User in tests).
func (p *Postgres) AdminDSN(database string) (string, error) {
	pw, err := os.ReadFile(p.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("postgres: read the superuser password from %s (the cluster directory is removed by Stop): %w", p.PasswordFile, err)
	}
	return pgDSN("postgres", strings.TrimSpace(string(pw)), p.Addr, database), nil
}

// DatabaseDSN connects to database as the application role User.
func (p *Postgres) DatabaseDSN(database string) string {
	return pgDSN(p.User, p.password, p.Addr, database)
}

func pgDSN(user, password, addr, database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: addr, Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// runAs returns credentials for the "postgres" system user when running as root:
// initdb and postgres refuse to run as root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as user postgres, which does not exist: install postgresql (make deps) or run as a normal user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// preparePostgres finds initdb and postgres, fills opts' defaults and returns the
// user the servers run as (nil: this one); shared by StartPostgres and StartPostgresAt.
func preparePostgres(opts *PostgresOptions) (initdb, server string, cred *syscall.Credential, err error) {
	pgDirs := []string{"/usr/lib/postgresql/*/bin"}
	if initdb, err = lookBinary("initdb", "postgresql", pgDirs...); err != nil {
		return "", "", nil, err
	}
	if server, err = lookBinary("postgres", "postgresql", pgDirs...); err != nil {
		return "", "", nil, err
	}
	if opts.Database == "" {
		opts.Database = "shakedown"
	}
	if opts.User == "" {
		opts.User = "shakedown"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	cred, err = runAs()
	return initdb, server, cred, err
}

// StartPostgres runs initdb in opts.Dir, starts postgres on a free loopback port and
// creates opts.Database.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	initdb, server, cred, err := preparePostgres(&opts)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.Parent, "shakedown-postgres-")
	if err != nil {
		return nil, fmt.Errorf("postgres: make a directory under %q: %w", opts.Parent, err)
	}
	pg, err := startPostgresIn(ctx, dir, initdb, server, cred, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return pg, nil
}

func startPostgresIn(ctx context.Context, dir, initdb, server string, cred *syscall.Credential, opts PostgresOptions) (*Postgres, error) {
	dataDir := filepath.Join(dir, "data")
	sockDir := filepath.Join(dir, "sock")
	for _, d := range []string{dataDir, sockDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("postgres: create %s: %w", d, err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("postgres: give %s to user postgres: %w", d, err)
			}
		}
	}
	// The postgres user must reach its directories, nobody else may.
	if err := giveDir(dir, cred); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	superPW, err := newPassword()
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pwFile := filepath.Join(dir, superuserPasswordFile)
	if err := writePrivate(pwFile, []byte(superPW+"\n"), cred); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// No trust anywhere: local socket and TCP both need the password.
	init := exec.CommandContext(ctx, initdb, "-D", dataDir, "-U", "postgres", "--auth=scram-sha-256", "--pwfile="+pwFile,
		"--no-sync", "-E", "UTF8", "--locale=C")
	init.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := init.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postgres: initdb %s: %w\n%s", dataDir, err, strings.TrimSpace(string(out)))
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		pg, err := startPostgresOnce(ctx, server, dir, dataDir, sockDir, cred, opts)
		if err == nil {
			return pg, nil
		}
		lastErr = err
		if err != errRetryPort {
			return nil, err
		}
	}
	return nil, fmt.Errorf("postgres: no free port after 3 attempts: %w", lastErr)
}

func startPostgresOnce(ctx context.Context, server, dir, dataDir, sockDir string, cred *syscall.Credential, opts PostgresOptions) (*Postgres, error) {
	if opts.User == "" {
		opts.User = "shakedown" // also for callers that fill no defaults (StartPostgresAt)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(server, "-D", dataDir, "-p", itoa(port), "-h", "127.0.0.1", "-k", sockDir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=128MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	logPath := filepath.Join(dir, "postgres.log")
	p, err := Start("postgres", logPath, cmd)
	if err != nil {
		return nil, err
	}
	pg := &Postgres{
		Addr:         fmt.Sprintf("127.0.0.1:%d", port),
		User:         opts.User,
		Dir:          dir,
		PasswordFile: filepath.Join(dir, superuserPasswordFile),
		proc:         p,
	}
	if pg.password, err = newPassword(); err != nil {
		_ = p.Stop(syscall.SIGKILL, time.Second)
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pg.DSN = pg.DatabaseDSN(opts.Database)
	adminDSN, err := pg.AdminDSN("postgres")
	if err != nil {
		_ = p.Stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	err = p.WaitReady(rctx, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return SetUpAppRole(ctx, conn, opts.User, pg.password, opts.Database)
	})
	if err != nil {
		_ = p.Stop(syscall.SIGKILL, time.Second)
		if p.PortClash() {
			return nil, errRetryPort
		}
		return nil, err
	}
	return pg, nil
}

// SetUpAppRole makes role a least-privilege login role with password (a fresh one on
// every start) and the owner of database, creating both when missing. As owner it can
// create tables in the database's public schema (PostgreSQL 15: owned by
// pg_database_owner), so migrations run; it cannot create roles or databases, and
// COPY ... PROGRAM and server-file access stay with superusers.
func SetUpAppRole(ctx context.Context, conn *pgx.Conn, role, password, database string) error {
	r, db := pgx.Identifier{role}.Sanitize(), pgx.Identifier{database}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return err
	}
	verb := "ALTER"
	if !exists {
		verb = "CREATE"
	}
	// password is hex (newPassword), so it needs no escaping in the literal.
	if _, err := conn.Exec(ctx, verb+" ROLE "+r+" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '"+password+"'"); err != nil {
		return fmt.Errorf("postgres: %s role %s: %w", strings.ToLower(verb), role, err)
	}
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database).Scan(&exists); err != nil {
		return err
	}
	stmt := "CREATE DATABASE " + db + " OWNER " + r
	if exists {
		stmt = "ALTER DATABASE " + db + " OWNER TO " + r
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("postgres: give database %s to role %s: %w", database, role, err)
	}
	return nil
}

// Stop shuts PostgreSQL down with a fast shutdown (SIGINT, then SIGKILL after 10 s)
// and removes its directory.
func (p *Postgres) Stop() error {
	err := p.proc.Stop(syscall.SIGINT, 10*time.Second)
	if rerr := os.RemoveAll(p.Dir); rerr != nil && err == nil {
		err = fmt.Errorf("postgres: remove %s: %w", p.Dir, rerr)
	}
	return err
}
