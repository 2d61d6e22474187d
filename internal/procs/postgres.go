package procs

import (
	"context"
	"fmt"
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
	// Database is created after start-up (default "shakedown").
	Database string
	// StartTimeout bounds the wait for connections (default 30 s).
	StartTimeout time.Duration
}

// Postgres is a running PostgreSQL child process with trust auth on loopback.
type Postgres struct {
	// Addr is host:port.
	Addr string
	// DSN connects to Database as the superuser "postgres".
	DSN string
	// Dir is the cluster's directory (data, socket, log).
	Dir  string
	proc *Process
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

// StartPostgres runs initdb in opts.Dir, starts postgres on a free loopback port and
// creates opts.Database.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	pgDirs := []string{"/usr/lib/postgresql/*/bin"}
	initdb, err := lookBinary("initdb", "postgresql", pgDirs...)
	if err != nil {
		return nil, err
	}
	server, err := lookBinary("postgres", "postgresql", pgDirs...)
	if err != nil {
		return nil, err
	}
	if opts.Database == "" {
		opts.Database = "shakedown"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	cred, err := runAs()
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
	if cred != nil {
		// The postgres user must be able to reach its directories.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, fmt.Errorf("postgres: open %s to user postgres: %w", dir, err)
		}
	}
	init := exec.CommandContext(ctx, initdb, "-D", dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
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
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	adminDSN := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", addr)
	rctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	err = p.WaitReady(rctx, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", opts.Database).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{opts.Database}.Sanitize())
		return err
	})
	if err != nil {
		_ = p.Stop(syscall.SIGKILL, time.Second)
		if p.PortClash() {
			return nil, errRetryPort
		}
		return nil, err
	}
	return &Postgres{
		Addr: addr,
		DSN:  fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", addr, opts.Database),
		Dir:  dir,
		proc: p,
	}, nil
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
