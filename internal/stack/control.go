package stack

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Actions are the fault actions every stack provider takes, for drills: pause
// (freeze), resume or kill (then restart) a datastore, stop or start the worker.
var Actions = []string{
	"clickhouse:pause", "clickhouse:resume", "clickhouse:kill",
	"postgres:pause", "postgres:resume", "postgres:kill",
	"worker:stop", "worker:start",
}

// ControlPath is where ControlHandler takes actions: POST ControlPath+action.
const ControlPath = "/v1/act/"

// ControlHandler lets another process on this machine take Actions on a stack
// (`shakedown gate --state DIR` drills faults through it): POST ControlPath+action
// with "Authorization: Bearer <token>"; 204 when done, 400 for an unknown action,
// 401 without the token, 500 when the action failed. Serve it on loopback only.
func ControlHandler(act func(ctx context.Context, action string) error, token string) http.Handler {
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
		if !slices.Contains(Actions, action) {
			http.Error(w, fmt.Sprintf("control: unknown action %q: want one of %s", action, strings.Join(Actions, ", ")), http.StatusBadRequest)
			return
		}
		if err := act(r.Context(), action); err != nil {
			http.Error(w, "control: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
