package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shakedown-dev/shakedown/reference/capture"
	"github.com/shakedown-dev/shakedown/reference/teams"
)

// maxRestartBackoff caps the wait between restart attempts.
const maxRestartBackoff = 10 * time.Second

// Names inside Options.KeepDir.
const (
	keptClickHouse = "clickhouse"
	keptPostgres   = "postgres"
	keptToken      = "token"
	keptLock       = "lock"
)

// failure is the stack's terminal error, set once.
type failure struct {
	once sync.Once
	done chan struct{}
	err  error
}

func newFailure() *failure { return &failure{done: make(chan struct{})} }

// fail records err as the reason the stack stopped working and closes done.
func (f *failure) fail(err error) {
	f.once.Do(func() { f.err = err; close(f.done) })
}

// Done is closed when the stack can no longer work: a ClickHouse or PostgreSQL
// child died and could not be restarted after Options.MaxRestarts attempts. Err says
// why. Close does not close it.
func (s *Stack) Done() <-chan struct{} { return s.failure.done }

// Err is nil until Done is closed, then the reason.
func (s *Stack) Err() error {
	select {
	case <-s.failure.done:
		return s.failure.err
	default:
		return nil
	}
}

// child is a server process the stack supervises.
type child interface {
	Done() <-chan struct{}
	ExitError() error
	Restart(ctx context.Context) error
}

// supervise watches ClickHouse and PostgreSQL until ctx ends and restarts either
// when it dies.
func (s *Stack) supervise(ctx context.Context) {
	s.goRun(func() { s.superviseChild(ctx, "clickhouse-server", s.ch) })
	s.goRun(func() { s.superviseChild(ctx, "postgres", s.pg) })
}

// superviseChild restarts c, on its data directory, port and credentials, each time
// it exits: after RestartBackoff, doubling per failed attempt. After MaxRestarts
// failed attempts in a row it reports the stack failed (Done) and stops watching.
// stableUptime is how long a restarted child must stay up for its next death
// to count as a new failure rather than part of the same streak.
const stableUptime = 30 * time.Second

func (s *Stack) superviseChild(ctx context.Context, name string, c child) {
	// A child that dies again within stableUptime of its restart continues the
	// same streak of failures (and backoff): one that starts, passes its ready
	// check and crashes again is not restarted forever.
	var (
		streak      int
		delay       time.Duration
		lastRestart time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
		}
		if ctx.Err() != nil {
			return
		}
		if lastRestart.IsZero() || time.Since(lastRestart) >= stableUptime {
			streak, delay = 0, s.opts.RestartBackoff
		}
		exitErr := c.ExitError()
		s.logger.Warn(name+" died; restarting it on its data directory", "child", name, "exit", exitErr)
		var restartErr error
		for {
			streak++
			if streak > s.opts.MaxRestarts {
				s.failure.fail(fmt.Errorf("%s died and %d restarts in a row failed or did not last %s, so the stack cannot store events: "+
					"fix the cause in its log below and start the stack again\nlast restart error: %v\nlast exit: %v",
					name, s.opts.MaxRestarts, stableUptime, restartErr, exitErr))
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, maxRestartBackoff)
			if restartErr = c.Restart(ctx); restartErr == nil {
				s.logger.Warn(name+" restarted", "child", name, "attempt", streak)
				lastRestart = time.Now()
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.logger.Warn(name+" restart failed", "child", name, "attempt", streak, "of", s.opts.MaxRestarts, "err", restartErr)
		}
	}
}

// dependencies are what capture's /_readiness checks besides Kafka.
func (s *Stack) dependencies(tokens *teams.Store) []capture.Dependency {
	return []capture.Dependency{
		{Name: "postgres (token store)", Check: tokens.Ping},
		{Name: "clickhouse (worker inserts)", Check: s.clickHouseHealth},
	}
}

// clickHouseHealth is the worker's view of ClickHouse (its last insert or ping), or
// a ping when no worker runs.
func (s *Stack) clickHouseHealth(ctx context.Context) error {
	s.workerMu.Lock()
	w := s.worker
	s.workerMu.Unlock()
	if w != nil {
		return w.ClickHouseErr()
	}
	if err := s.ClickHouse.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse ping: %w", err)
	}
	return nil
}

// openKeepDir creates and locks Options.KeepDir and returns the token to use: token
// when set, else the one kept by an earlier run (empty when there is none).
func (s *Stack) openKeepDir(token string) (string, error) {
	dir := s.opts.KeepDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("--keep %s: create it: %w", dir, err)
	}
	if os.Geteuid() == 0 {
		// As root the servers run as their own system users, which must traverse it
		// and every directory above it.
		if err := traversableByAll(dir); err != nil {
			return "", fmt.Errorf("--keep %s: %w", dir, err)
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			return "", fmt.Errorf("--keep %s: let the database users traverse it: %w", dir, err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, keptLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("--keep %s: open its lock file: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return "", fmt.Errorf("--keep %s is in use by another running stack: stop that one or keep another directory: %w", dir, err)
	}
	s.keepLock = lock
	if token != "" {
		return token, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, keptToken))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("--keep %s: read the kept token: %w", dir, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// keepToken writes token into Options.KeepDir (mode 0600), if one is set.
func (s *Stack) keepToken(token string) error {
	if s.opts.KeepDir == "" {
		return nil
	}
	path := filepath.Join(s.opts.KeepDir, keptToken)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("--keep: write the token to %s: %w", path, err)
	}
	return nil
}

// traversableByAll checks that every directory above dir lets other users
// through (the execute bit for others): clickhouse-server and PostgreSQL run as
// their own users and must reach their data inside dir.
func traversableByAll(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the database servers run as their own users and cannot enter %s (mode %04o): keep the data under a directory every user may enter (e.g. /var/lib/shakedown), or chmod o+x %s",
				p, fi.Mode().Perm(), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
