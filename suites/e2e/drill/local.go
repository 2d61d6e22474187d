package drill

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// Faults are the drills of the local stack, by name, built on act, which
// takes one of local.Actions:
//   - clickhouse-pause: ClickHouse stopped (SIGSTOP) for 5 s, then resumed;
//   - clickhouse-kill: ClickHouse killed (SIGKILL); the stack restarts it;
//   - postgres-pause: PostgreSQL stopped for 5 s (start the stack with a
//     TokenCacheTTL under that, so the pause outlasts the token cache);
//   - postgres-kill: PostgreSQL killed; the stack restarts it;
//   - worker-restart: the worker stopped for 3 s, then started again.
//
// A worker killed outright (SIGKILL, between insert and commit) is drilled
// by the worker package's crash tests on a worker process of its own.
func Faults(act func(ctx context.Context, action string) error) []Fault {
	do := func(action string) func(context.Context) error {
		return func(ctx context.Context) error { return act(ctx, action) }
	}
	return []Fault{
		{Name: "clickhouse-pause", Hold: 5 * time.Second, Inject: do("clickhouse:pause"), Recover: do("clickhouse:resume")},
		{Name: "clickhouse-kill", Hold: 3 * time.Second, Inject: do("clickhouse:kill")},
		{Name: "postgres-pause", Hold: 5 * time.Second, Inject: do("postgres:pause"), Recover: do("postgres:resume")},
		{Name: "postgres-kill", Hold: 3 * time.Second, Inject: do("postgres:kill")},
		{Name: "worker-restart", Hold: 3 * time.Second, Inject: do("worker:stop"), Recover: do("worker:start")},
	}
}

// LocalFaults are Faults on a local stack in this process.
func LocalFaults(s *local.Stack) []Fault { return Faults(s.Act) }

// RemoteFaults are Faults on a local stack of another process, through its
// control endpoint (stack.Endpoints.ControlURL and ControlToken, which
// `shakedown stack up --state DIR` writes).
func RemoteFaults(controlURL, token string) []Fault {
	client := &http.Client{Timeout: 30 * time.Second}
	return Faults(func(ctx context.Context, action string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(controlURL, "/")+local.ControlPath+action, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s through the stack's control endpoint: %w", action, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			return fmt.Errorf("%s through the stack's control endpoint: %s: %s", action, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	})
}
