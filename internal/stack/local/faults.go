package local

import (
	"fmt"
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
