package capture

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error types, as PostHog names them in error replies.
const (
	typeValidation = "validation_error"
	typeAuth       = "authentication_error"
	typeRateLimit  = "rate_limited"
	typeServer     = "server_error"
	typeNotFound   = "not_found"
)

// apiError is a reply that is not a success. It marshals to
// {"type":..., "code":..., "detail":...}; code is also the metrics reject reason.
type apiError struct {
	Status int    `json:"-"`
	Type   string `json:"type"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeValidation, Code: code, Detail: fmt.Sprintf(format, args...)}
}

func unauthorized(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Type: typeAuth, Code: code, Detail: fmt.Sprintf(format, args...)}
}

func unavailable(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// writeJSON writes v with status; encoding errors are impossible for our types.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
