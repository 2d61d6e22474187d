package drill

import (
	"context"
	"syscall"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// LocalFaults are the drills of a local stack, by name:
//   - clickhouse-pause: ClickHouse stopped (SIGSTOP) for 5 s, then resumed;
//   - clickhouse-kill: ClickHouse killed (SIGKILL); the stack restarts it;
//   - postgres-pause: PostgreSQL stopped for 5 s (start the stack with a
//     TokenCacheTTL under that, so the pause outlasts the token cache);
//   - postgres-kill: PostgreSQL killed; the stack restarts it;
//   - worker-restart: the worker stopped for 3 s, then started again.
//
// A worker killed outright (SIGKILL, between insert and commit) is drilled
// by the worker package's crash tests on a worker process of its own.
func LocalFaults(s *local.Stack) []Fault {
	signal := func(child string, sig syscall.Signal) func(context.Context) error {
		return func(context.Context) error { return s.Signal(child, sig) }
	}
	return []Fault{
		{Name: "clickhouse-pause", Hold: 5 * time.Second,
			Inject: signal(local.ClickHouseChild, syscall.SIGSTOP), Recover: signal(local.ClickHouseChild, syscall.SIGCONT)},
		{Name: "clickhouse-kill", Hold: 3 * time.Second, Inject: signal(local.ClickHouseChild, syscall.SIGKILL)},
		{Name: "postgres-pause", Hold: 5 * time.Second,
			Inject: signal(local.PostgresChild, syscall.SIGSTOP), Recover: signal(local.PostgresChild, syscall.SIGCONT)},
		{Name: "postgres-kill", Hold: 3 * time.Second, Inject: signal(local.PostgresChild, syscall.SIGKILL)},
		{Name: "worker-restart", Hold: 3 * time.Second,
			Inject:  func(context.Context) error { return s.StopWorker() },
			Recover: func(context.Context) error { return s.StartWorker() }},
	}
}
