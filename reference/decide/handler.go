package decide

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shakedown-dev/shakedown/reference/payload"
)

// Handler serves /decide from an in-memory cache of teams and flags. It is safe
// for concurrent use.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	snap    atomic.Pointer[snapshot]
	// refreshMu serialises refreshes so an older load never replaces a newer one.
	refreshMu sync.Mutex
}

// New loads the teams and flags once and returns a Handler serving them. Call Run
// to keep the cache fresh.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.Postgres == nil {
		return nil, errors.New("decide: Config.Postgres is required")
	}
	cfg = cfg.withDefaults()
	h := &Handler{cfg: cfg, log: cfg.Logger}
	h.metrics = newMetrics(h)
	if err := h.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("decide: initial load: %w", err)
	}
	if err := h.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	return h, nil
}

// Run refreshes the cache every RefreshInterval until ctx ends, then returns nil.
// A failed refresh is logged and counted, and the last good cache stays in use.
func (h *Handler) Run(ctx context.Context) error {
	t := time.NewTicker(h.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = h.Refresh(ctx) // logged and counted by Refresh
		}
	}
}

// Refresh reloads teams and flags from PostgreSQL now. On failure the previous
// cache is kept, the failure is logged and counted, and the error returned.
func (h *Handler) Refresh(ctx context.Context) error {
	h.refreshMu.Lock()
	defer h.refreshMu.Unlock()
	snap, flagErrs, err := loadSnapshot(ctx, h.cfg.Postgres, time.Now())
	if err != nil {
		h.metrics.refreshes.WithLabelValues("error").Inc()
		err = fmt.Errorf("decide: refresh flag cache: %w", err)
		h.log.ErrorContext(ctx, "decide: flag cache refresh failed; keeping the last good cache",
			"err", err, "cache_age", h.CacheAge().String())
		return err
	}
	for _, e := range flagErrs {
		h.log.WarnContext(ctx, "decide: flag filters invalid; the flag answers false with errorsWhileComputingFlags", "err", e)
	}
	h.snap.Store(snap)
	h.metrics.refreshes.WithLabelValues("ok").Inc()
	return nil
}

// CacheAge is the time since the cache was last loaded successfully.
func (h *Handler) CacheAge() time.Duration {
	s := h.snap.Load()
	if s == nil {
		return 0
	}
	return time.Since(s.loadedAt)
}

// ServeHTTP answers /decide and /flags: GET (?data=) and POST evaluate, OPTIONS
// is the CORS preflight. Replies: 200 with the flags; 400 malformed body or
// missing distinct_id; 401 missing, unknown, mixed or personal (phx_) token; 405
// other methods; 413 body too large (an unsupported encoding is a 400, code
// unsupported_media_type). Paths under /array/ are the remote config
// (serveRemoteConfig).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.setCORS(w, r)
	path := strings.TrimSuffix(r.URL.Path, "/")
	if strings.HasPrefix(path, "/array/") {
		h.serveRemoteConfig(w, r, path)
		return
	}
	if !h.methodAllowed(w, r, "use POST (or GET with ?data=)", http.MethodGet, http.MethodPost) {
		return
	}
	body, err := payload.ReadBody(r, h.cfg.MaxBody)
	if err != nil {
		h.fail(w, bodyError(err))
		return
	}
	req, token, distinctID, rerr := parseRequest(body)
	if rerr != nil {
		h.fail(w, rerr)
		return
	}
	t := h.snap.Load().teams[token]
	if t == nil {
		h.fail(w, &requestError{status: http.StatusUnauthorized, kind: "authentication_error", code: "invalid_api_key",
			detail: "project API key invalid: send the project's API key (teams.api_token) as \"token\"; a project created moments ago is served after the next cache refresh"})
		return
	}
	props, known := req.PersonProperties, true
	if len(t.propKeys) > 0 {
		props, known = h.personProperties(r.Context(), t, distinctID, req.PersonProperties)
	}
	person := subject{id: distinctID, props: props, known: known}
	ev := t.evaluate(person, h.groupSubjects(r.Context(), t, req))
	h.metrics.countFlags(ev)
	h.metrics.requests.WithLabelValues(outcomeOK).Inc()
	v := apiVersion(r)
	if path == "/flags" {
		v = flagsVersion(v)
	}
	writeJSON(w, http.StatusOK, newResponse(ev, v))
}

// methodAllowed answers the CORS preflight (OPTIONS) and refuses a method
// outside allowed with 405 and hint; it reports whether the request goes on.
func (h *Handler) methodAllowed(w http.ResponseWriter, r *http.Request, hint string, allowed ...string) bool {
	if r.Method == http.MethodOptions {
		h.metrics.requests.WithLabelValues(outcomePreflight).Inc()
		preflight(w)
		return false
	}
	if slices.Contains(allowed, r.Method) {
		return true
	}
	h.metrics.requests.WithLabelValues(outcomeMethod).Inc()
	w.Header().Set("Allow", strings.Join(allowed, ", ")+", OPTIONS")
	writeError(w, &requestError{status: http.StatusMethodNotAllowed, kind: "invalid_request", code: "method_not_allowed",
		detail: r.Method + " is not allowed: " + hint})
	return false
}

func (h *Handler) fail(w http.ResponseWriter, e *requestError) {
	outcome := outcomeBadRequest
	switch {
	case e.status == http.StatusUnauthorized:
		outcome = outcomeUnauthorized
	case e.status == http.StatusRequestEntityTooLarge:
		outcome = outcomeTooLarge
	case e.code == payload.UnsupportedMediaType.String():
		outcome = outcomeUnsupported
	}
	h.metrics.requests.WithLabelValues(outcome).Inc()
	writeError(w, e)
}

// bodyError maps a payload error to a client error.
func bodyError(err error) *requestError {
	var pe *payload.Error
	if errors.As(err, &pe) {
		return &requestError{status: pe.Kind.HTTPStatus(), kind: "validation_error", code: pe.Kind.String(), detail: pe.Detail}
	}
	return &requestError{status: http.StatusBadRequest, kind: "validation_error", code: "malformed_payload", detail: err.Error()}
}
