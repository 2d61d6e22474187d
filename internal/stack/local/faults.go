package local

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"syscall"
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

// Actions Act takes on the stack, for fault drills.
var Actions = []string{
	"clickhouse:pause", "clickhouse:resume", "clickhouse:kill",
	"postgres:pause", "postgres:resume", "postgres:kill",
	"worker:stop", "worker:start",
}

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
const ControlPath = "/v1/act/"

// ControlHandler lets another process on this machine take Actions on the
// stack (`shakedown gate --state DIR` drills faults through it): POST
// ControlPath+action with "Authorization: Bearer <token>"; 204 when done, 400
// for an unknown action, 401 without the token, 500 when the action failed.
// Serve it on a loopback address only.
func (s *Stack) ControlHandler(token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			http.Error(w, "control: a bearer token is required (control_token in stack.json)", http.StatusUnauthorized)
			return
		}
		action, ok := strings.CutPrefix(r.URL.Path, ControlPath)
		if r.Method != http.MethodPost || !ok {
			http.Error(w, "control: POST "+ControlPath+"<action>", http.StatusNotFound)
			return
		}
		known := false
		for _, a := range Actions {
			known = known || a == action
		}
		if !known {
			http.Error(w, fmt.Sprintf("control: unknown action %q: want one of %s", action, strings.Join(Actions, ", ")), http.StatusBadRequest)
			return
		}
		if err := s.Act(r.Context(), action); err != nil {
			http.Error(w, "control: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
