// Package procs starts the reference stack's databases (clickhouse-server and
// PostgreSQL) as child processes on free loopback ports, each in its own
// directory, and stops them again. Children are bound to the parent's life
// (SIGKILL on parent death) so a crashed test leaves nothing running.
package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MissingBinaryError says a server binary is not installed and how to get it.
type MissingBinaryError struct {
	// Binary is the program that was looked for.
	Binary string
	// Package is the Debian package that provides it.
	Package string
}

func (e *MissingBinaryError) Error() string {
	return fmt.Sprintf("%s not found (looked in PATH and the usual Debian locations): run `make deps`, or `apt-get install %s` as root", e.Binary, e.Package)
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lookBinary finds name in PATH or in the given extra directories (globs allowed).
func lookBinary(name, pkg string, extra ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, pattern := range extra {
		matches, _ := filepath.Glob(filepath.Join(pattern, name))
		for i := len(matches) - 1; i >= 0; i-- { // globs sort ascending: prefer the newest version
			if st, err := os.Stat(matches[i]); err == nil && st.Mode()&0o111 != 0 {
				return matches[i], nil
			}
		}
	}
	return "", &MissingBinaryError{Binary: name, Package: pkg}
}

// Process is a started child with its log file. Children run in their own process
// group and get SIGKILL when the parent dies, so a crashed test leaves nothing running.
//
// A Process may be started again with Restart once it has exited; mu guards the
// current run (cmd, done, waitErr), which Restart replaces.
type Process struct {
	// Name names the child in errors, e.g. "clickhouse-server".
	Name    string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// Start starts cmd with its output appended to logPath.
func Start(name, logPath string, cmd *exec.Cmd) (*Process, error) {
	p := &Process{Name: name, logPath: logPath}
	if err := p.spawn(cmd); err != nil {
		return nil, err
	}
	return p, nil
}

// spawn starts cmd as p's current run; the previous run, if any, has exited.
func (p *Process) spawn(cmd *exec.Cmd) error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%s: open log %s: %w", p.Name, p.logPath, err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s (%s): %w", p.Name, cmd.Path, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.waitErr = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		if p.cmd == cmd {
			p.waitErr = err
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// current returns the current run's command and its done channel.
func (p *Process) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// Pid is the child's process id (of its current run, after a Restart).
func (p *Process) Pid() int {
	cmd, _ := p.current()
	return cmd.Process.Pid
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	_, done := p.current()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Stop sends sig to the process group, waits up to grace, then kills it.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	cmd, done := p.current()
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	return fmt.Errorf("%s did not stop within %s after %s; killed", p.Name, grace, sig)
}

// LogTail returns the last lines of the process log, for error messages.
func (p *Process) LogTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	const max = 2500
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(bytes.TrimSpace(b))
}

// ExitError describes how the process ended, with the end of its log, or returns nil
// while it runs.
func (p *Process) ExitError() error {
	if !p.Exited() {
		return nil
	}
	p.mu.Lock()
	waitErr := p.waitErr
	p.mu.Unlock()
	return fmt.Errorf("%s exited (%v); log %s:\n%s", p.Name, waitErr, p.logPath, p.LogTail())
}

// WaitReady polls check (each call bounded to 2 s) every 50 ms until it succeeds, the
// process exits, or ctx ends; errors carry the end of the log.
func (p *Process) WaitReady(ctx context.Context, check func(context.Context) error) error {
	var last error
	for {
		if err := p.ExitError(); err != nil {
			return fmt.Errorf("during start-up: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready (%v; last check: %v); log %s:\n%s", p.Name, ctx.Err(), last, p.logPath, p.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PortClash tells whether a start-up failure looks like a port taken between probing
// and binding, so the caller can retry on other ports.
func (p *Process) PortClash() bool {
	t := p.LogTail()
	return strings.Contains(t, "Address already in use") || strings.Contains(t, "address already in use") ||
		strings.Contains(t, "could not bind")
}

var errRetryPort = errors.New("port taken between probe and bind")

func itoa(i int) string { return strconv.Itoa(i) }
