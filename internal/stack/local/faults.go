package local

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"github.com/shakedown-dev/shakedown/internal/stack"
)

// Datastore children of the local stack that Signal can reach.
const (
	ClickHouseChild = "clickhouse"
	PostgresChild   = "postgres"
)

// Signal sends sig to a datastore child of the stack (and the processes it
// started), for fault drills: SIGSTOP pauses it, SIGCONT resumes it, SIGKILL
// kills it, after which the stack's supervisor restarts it.
func (s *Stack) Signal(child string, sig syscall.Signal) error {
	switch child {
	case ClickHouseChild:
		if s.ch == nil {
			return fmt.Errorf("signal %s: the stack has no ClickHouse child", child)
		}
		return s.ch.Signal(sig)
	case PostgresChild:
		if s.pg == nil {
			return fmt.Errorf("signal %s: the stack has no PostgreSQL child", child)
		}
		return s.pg.Signal(sig)
	}
	return fmt.Errorf("signal %q: no such child: use %q or %q", child, ClickHouseChild, PostgresChild)
}

// Actions Act takes on the stack, for fault drills (stack.Actions).
var Actions = stack.Actions

// Act takes one of Actions: pause (SIGSTOP), resume (SIGCONT) or kill
// (SIGKILL; the supervisor restarts it) a datastore child, or stop and start
// the worker.
func (s *Stack) Act(_ context.Context, action string) error {
	switch action {
	case "clickhouse:pause":
		return s.Signal(ClickHouseChild, syscall.SIGSTOP)
	case "clickhouse:resume":
		return s.Signal(ClickHouseChild, syscall.SIGCONT)
	case "clickhouse:kill":
		return s.Signal(ClickHouseChild, syscall.SIGKILL)
	case "postgres:pause":
		return s.Signal(PostgresChild, syscall.SIGSTOP)
	case "postgres:resume":
		return s.Signal(PostgresChild, syscall.SIGCONT)
	case "postgres:kill":
		return s.Signal(PostgresChild, syscall.SIGKILL)
	case "worker:stop":
		return s.StopWorker()
	case "worker:start":
		return s.StartWorker()
	}
	return fmt.Errorf("action %q: want one of %s", action, strings.Join(Actions, ", "))
}

// ControlPath is where ControlHandler takes actions: POST ControlPath+action.
const ControlPath = stack.ControlPath

// ControlHandler lets another process on this machine take Actions on the stack
// (see stack.ControlHandler). Serve it on a loopback address only.
func (s *Stack) ControlHandler(token string) http.Handler {
	return stack.ControlHandler(s.Act, token)
}
