package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultRestartTimeout bounds the wait for a restarted server to answer when the
// caller's context has no deadline.
const DefaultRestartTimeout = 30 * time.Second

// Done is closed when the current run of the process ends; after a Restart it is a
// new channel, so ask again.
func (p *Process) Done() <-chan struct{} {
	_, done := p.current()
	return done
}

// Signal sends sig to the current run's process group and to every descendant (the
// server and every process it started, also those in sessions of their own, as
// PostgreSQL backends are), e.g. SIGSTOP and SIGCONT to pause and resume the server.
func (p *Process) Signal(sig syscall.Signal) error {
	cmd, _ := p.current()
	pid := cmd.Process.Pid
	kids := descendants(pid)
	if err := syscall.Kill(-pid, sig); err != nil {
		return fmt.Errorf("signal %s to %s (pid %d): %w", sig, p.Name, pid, err)
	}
	for _, k := range kids {
		_ = syscall.Kill(k, sig) // a child may have ended meanwhile
	}
	return nil
}

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			children[ppid] = append(children[ppid], child)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		out = append(out, children[next]...)
		queue = append(queue, children[next]...)
	}
	return out
}

// Restart starts the process again with the same program, arguments, directory,
// environment and user, appending to the same log. It refuses while the process runs.
// What is left of the old process group (e.g. PostgreSQL backends whose postmaster
// was killed) is killed first, so it cannot hold on to ports or shared memory.
func (p *Process) Restart() error {
	old, done := p.current()
	select {
	case <-done:
	default:
		return fmt.Errorf("restart %s: it is still running (pid %d); stop it first", p.Name, old.Process.Pid)
	}
	if err := syscall.Kill(-old.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("restart %s: kill what is left of process group %d: %w", p.Name, old.Process.Pid, err)
	}
	cmd := exec.Command(old.Path, old.Args[1:]...)
	cmd.Dir, cmd.Env = old.Dir, old.Env
	if old.SysProcAttr != nil && old.SysProcAttr.Credential != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: old.SysProcAttr.Credential}
	}
	return p.spawn(cmd)
}

// restartAndWait restarts p and waits until check passes, bounded by ctx or, when
// ctx has no deadline, by DefaultRestartTimeout.
func restartAndWait(ctx context.Context, p *Process, check func(context.Context) error) error {
	if err := p.Restart(); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRestartTimeout)
		defer cancel()
	}
	if err := p.WaitReady(ctx, check); err != nil {
		_ = p.Stop(syscall.SIGKILL, time.Second)
		return fmt.Errorf("restart %s: %w", p.Name, err)
	}
	return nil
}

// Done is closed when the server exits; after Restart it is a new channel.
func (c *ClickHouse) Done() <-chan struct{} { return c.proc.Done() }

// ExitError describes how the server ended, with the end of its log, or is nil
// while it runs.
func (c *ClickHouse) ExitError() error { return c.proc.ExitError() }

// Pid is the server's process id.
func (c *ClickHouse) Pid() int { return c.proc.Pid() }

// Signal sends sig to the server's process group.
func (c *ClickHouse) Signal(sig syscall.Signal) error { return c.proc.Signal(sig) }

// Restart starts an exited server again on its directory, config and ports, and
// waits until it answers queries. Its data is what the server had written.
func (c *ClickHouse) Restart(ctx context.Context) error {
	c.client.CloseIdleConnections()
	return restartAndWait(ctx, c.proc, func(ctx context.Context) error {
		_, err := c.Query(ctx, "SELECT 1")
		return err
	})
}

// Done is closed when the server exits; after Restart it is a new channel.
func (p *Postgres) Done() <-chan struct{} { return p.proc.Done() }

// ExitError describes how the server ended, with the end of its log, or is nil
// while it runs.
func (p *Postgres) ExitError() error { return p.proc.ExitError() }

// Pid is the postmaster's process id.
func (p *Postgres) Pid() int { return p.proc.Pid() }

// Signal sends sig to the postmaster's process group (postmaster and backends).
func (p *Postgres) Signal(sig syscall.Signal) error { return p.proc.Signal(sig) }

// Restart starts an exited server again on its data directory and port, and waits
// until it accepts connections to its database; crash recovery runs first.
func (p *Postgres) Restart(ctx context.Context) error {
	return restartAndWait(ctx, p.proc, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, p.DSN)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
}

// Shutdown stops the server like Stop but keeps its directory, for a cluster made by
// StartPostgresIn that a later run starts again.
func (p *Postgres) Shutdown() error {
	return p.proc.Stop(syscall.SIGINT, 10*time.Second)
}

// StartPostgresAt starts the cluster kept in dir (data, socket, log), running initdb
// first when dir holds none yet, and creates opts.Database if missing. opts.Parent is
// not used. Unlike StartPostgres it never removes dir: stop the server with Shutdown
// and a later StartPostgresAt on the same dir finds the same data. When running as
// root, every parent of dir must be traversable by user postgres.
func StartPostgresAt(ctx context.Context, dir string, opts PostgresOptions) (*Postgres, error) {
	initdb, server, cred, err := preparePostgres(&opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("postgres: make the cluster directory %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		return startPostgresIn(ctx, dir, initdb, server, cred, opts)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		pg, err := startPostgresOnce(ctx, server, dir, filepath.Join(dir, "data"), filepath.Join(dir, "sock"), cred, opts)
		if err == nil {
			return pg, nil
		}
		lastErr = err
		if err != errRetryPort {
			return nil, fmt.Errorf("postgres: start the cluster kept in %s (remove the directory to start afresh): %w", dir, err)
		}
	}
	return nil, fmt.Errorf("postgres: no free port after 3 attempts: %w", lastErr)
}

// StartClickHouseAt starts clickhouse-server on dir itself (config, data, log; created
// if missing) rather than on a new directory under opts.Dir, so a later
// StartClickHouseAt on the same dir finds the same data. Stop never removes dir.
// Passwords are generated afresh on every start. When running as root the server
// runs as the "clickhouse" system user, and every parent of dir must be traversable
// by it.
func StartClickHouseAt(ctx context.Context, dir string, opts ClickHouseOptions) (*ClickHouse, error) {
	bin, cred, err := prepareClickHouse(&opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("clickhouse-server: make its directory %s: %w", dir, err)
	}
	if err := giveDir(dir, cred); err != nil {
		return nil, fmt.Errorf("clickhouse-server: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ch, err := startClickHouseOnce(ctx, bin, dir, cred, opts)
		if err == nil {
			return ch, nil
		}
		lastErr = err
		if err != errRetryPort {
			return nil, fmt.Errorf("clickhouse-server: start on the kept directory %s (remove it to start afresh): %w", dir, err)
		}
	}
	return nil, fmt.Errorf("clickhouse-server: no free port pair after 3 attempts: %w", lastErr)
}
