// Package dockerd finds a Docker engine to use, starting Debian's dockerd when none
// answers, and stops it again when the last user of this machine that needed it is done.
//
// Several processes (say, two test packages) may use the engine at once. Each holds a
// lease, a file named by its process id; the engine is stopped by the last one to
// release its lease, and only if dockerd was started here. An engine that was already
// running is never stopped.
package dockerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shakedown-dev/shakedown/internal/flock"
)

// DefaultSocket is where dockerd listens unless DOCKER_HOST says otherwise.
const DefaultSocket = "/var/run/docker.sock"

// ErrNoEngine means no engine answers and none can be started here.
var ErrNoEngine = errors.New("no Docker engine")

// Options configures Ensure.
type Options struct {
	// Host is the engine's address as in DOCKER_HOST ("unix:///var/run/docker.sock",
	// "tcp://..."); empty means DefaultSocket. Only a unix socket engine can be started.
	Host string
	// Dockerd is the dockerd binary (default: "dockerd" from PATH, then /usr/sbin/dockerd).
	Dockerd string
	// StateDir holds the leases, the lock and dockerd's log (default /run/shakedown/dockerd).
	StateDir string
	// StartTimeout bounds how long a started dockerd may take to answer (default 60 s).
	StartTimeout time.Duration
	// Log, if set, is told when dockerd is started or stopped.
	Log io.Writer
}

// Engine is a Docker engine this process holds a lease on.
type Engine struct {
	// Host is the engine's address in DOCKER_HOST form.
	Host string
	// Started says this call started dockerd (it stops when the last lease is released).
	Started bool

	opts  Options
	lease string
}

// Ensure returns an answering engine, starting dockerd (as root, with a unix socket)
// when none answers. Call Release when done.
func Ensure(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Host == "" {
		opts.Host = "unix://" + DefaultSocket
	}
	if opts.StateDir == "" {
		opts.StateDir = "/run/shakedown/dockerd"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	e := &Engine{Host: opts.Host, opts: opts}
	var unlock func()
	err := os.MkdirAll(filepath.Join(opts.StateDir, "leases"), 0o755)
	if err == nil {
		unlock, err = flock.Lock(ctx, filepath.Join(opts.StateDir, "lock"))
	}
	if err != nil {
		// Not root, say (or the state was made by root): an answering engine is used
		// without a lease, and is never stopped here.
		if Ping(ctx, opts.Host) == nil {
			return e, nil
		}
		return nil, fmt.Errorf("%w at %s, and none can be started: %v (start Docker, or run as root with Debian's docker.io installed: `make deps`)", ErrNoEngine, opts.Host, err)
	}
	defer unlock()
	// One lease per Ensure (pid-random), so two users in one process each hold their own.
	e.lease = filepath.Join(opts.StateDir, "leases", strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.WriteFile(e.lease, nil, 0o644); err != nil {
		return nil, fmt.Errorf("docker engine lease %s: %w", e.lease, err)
	}
	if Ping(ctx, opts.Host) == nil {
		return e, nil
	}
	if err := e.start(ctx); err != nil {
		os.Remove(e.lease)
		return nil, err
	}
	return e, nil
}

// start runs dockerd in the background and waits until it answers.
func (e *Engine) start(ctx context.Context) error {
	sock, ok := strings.CutPrefix(e.Host, "unix://")
	if !ok {
		return fmt.Errorf("%w answers at %s; only a local unix-socket engine can be started here (start that engine, or unset DOCKER_HOST)", ErrNoEngine, e.Host)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w answers at %s, and dockerd needs root to start: start Docker (e.g. `sudo dockerd &`)", ErrNoEngine, e.Host)
	}
	bin := e.opts.Dockerd
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("dockerd"); err != nil {
			bin = "/usr/sbin/dockerd"
		}
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w answers at %s and dockerd is not installed (%v): install Debian's docker.io (`make deps` does, as root)", ErrNoEngine, e.Host, err)
	}
	logPath := filepath.Join(e.opts.StateDir, "dockerd.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("dockerd log %s: %w", logPath, err)
	}
	defer logFile.Close()
	pidFile := filepath.Join(e.opts.StateDir, "dockerd.pid")
	if _, err := os.Stat(sock); err == nil {
		// Only a socket nobody listens on (left by a killed engine) may go: one that
		// answers slowly or refuses us belongs to a live engine.
		c, err := net.DialTimeout("unix", sock, 2*time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("an engine listens on %s but does not answer /_ping: check it (`docker info`) rather than starting a second one", sock)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("docker socket %s: %v: check the engine rather than starting a second one", sock, err)
		}
		os.Remove(sock)
	}
	cmd := exec.Command(bin, "--host", e.Host, "--pidfile", pidFile)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own session: the engine outlives this process if another lease holds it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(e.startedMarker(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("record the started dockerd: %w", err)
	}
	fmt.Fprintf(e.opts.Log, "started dockerd (pid %d, log %s)\n", cmd.Process.Pid, logPath)
	deadline := time.NewTimer(e.opts.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			os.Remove(e.startedMarker())
			return fmt.Errorf("dockerd exited at start (%v); its log %s ends:\n%s", err, logPath, tail(logPath))
		case <-deadline.C:
			_ = cmd.Process.Kill()
			os.Remove(e.startedMarker())
			return fmt.Errorf("dockerd did not answer at %s within %s; its log %s ends:\n%s", e.Host, e.opts.StartTimeout, logPath, tail(logPath))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			os.Remove(e.startedMarker())
			return ctx.Err()
		case <-tick.C:
			if Ping(ctx, e.Host) == nil {
				e.Started = true
				// The marker names the process and its command, so a later Release
				// never signals a pid that has since gone to another program.
				pid := cmd.Process.Pid
				marker := fmt.Sprintf("%d %s", pid, procComm(pid))
				if err := os.WriteFile(e.startedMarker(), []byte(marker), 0o644); err != nil {
					return fmt.Errorf("record the started dockerd: %w", err)
				}
				return nil
			}
		}
	}
}

// procComm is the command name of process pid ("" when it is gone).
func procComm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (e *Engine) startedMarker() string {
	return filepath.Join(e.opts.StateDir, "started-by-shakedown")
}

// Release gives up this process's lease. When no other live process holds one and
// dockerd was started by shakedown, it stops dockerd (SIGTERM, then SIGKILL after 30 s).
func (e *Engine) Release() error {
	if e == nil || e.lease == "" {
		return nil
	}
	unlock, err := flock.Lock(context.Background(), filepath.Join(e.opts.StateDir, "lock"))
	if err != nil {
		return err
	}
	defer unlock()
	os.Remove(e.lease)
	e.lease = ""
	if liveLeases(filepath.Join(e.opts.StateDir, "leases")) > 0 {
		return nil
	}
	b, err := os.ReadFile(e.startedMarker())
	if err != nil {
		return nil // not started here: never stop someone else's engine
	}
	os.Remove(e.startedMarker())
	pidText, comm, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 1 {
		return fmt.Errorf("stop dockerd: bad pid %q in %s", b, e.startedMarker())
	}
	// The marker may outlive a dockerd that crashed: never signal a pid that now runs
	// another program.
	if comm == "" || procComm(pid) != comm {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	for range 300 {
		if syscall.Kill(pid, 0) != nil {
			fmt.Fprintf(e.opts.Log, "stopped dockerd (pid %d)\n", pid)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return fmt.Errorf("dockerd (pid %d) did not stop within 30 s of SIGTERM; killed it", pid)
}

// liveLeases counts the lease files whose process is still alive, removing the others.
func liveLeases(dir string) int {
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, ent := range entries {
		pidText, _, _ := strings.Cut(ent.Name(), "-")
		pid, err := strconv.Atoi(pidText)
		if err == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
			n++
			continue
		}
		os.Remove(filepath.Join(dir, ent.Name()))
	}
	return n
}

// Ping asks the engine at host (DOCKER_HOST form) for /_ping, within 5 s.
func Ping(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	base, client, err := httpClient(host)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("docker engine at %s: %w", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("docker engine at %s: /_ping answered %s", host, resp.Status)
	}
	return nil
}

func httpClient(host string) (string, *http.Client, error) {
	if sock, ok := strings.CutPrefix(host, "unix://"); ok {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		return "http://docker", &http.Client{Transport: tr}, nil
	}
	if rest, ok := strings.CutPrefix(host, "tcp://"); ok {
		return "http://" + rest, &http.Client{}, nil
	}
	return "", nil, fmt.Errorf("docker host %q: want unix:///path or tcp://host:port", host)
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
