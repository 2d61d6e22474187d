package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// personQuery reads the properties of the person a distinct_id points at, through
// person_distinct_ids' primary key.
const personQuery = `SELECT p.properties::text
	FROM person_distinct_ids d JOIN persons p ON p.id = d.person_id
	WHERE d.team_id = $1 AND d.distinct_id = $2`

// storedProperties returns the stored properties of distinctID's person in teamID;
// found is false when no person has that distinct_id.
func (h *Handler) storedProperties(ctx context.Context, teamID int64, distinctID string) (props map[string]any, found bool, err error) {
	var text string
	err = h.cfg.Postgres.QueryRow(ctx, personQuery, teamID, distinctID).Scan(&text)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read person of distinct_id %q in team %d: %w", distinctID, teamID, err)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if err := dec.Decode(&props); err != nil {
		return nil, false, fmt.Errorf("decode properties of distinct_id %q in team %d: %w", distinctID, teamID, err)
	}
	return props, true, nil
}

// personProperties merges the stored properties of the person under the request's
// person_properties (the request wins). The database is read only when t's flags
// need a key the request lacks. known is false when that read failed.
func (h *Handler) personProperties(ctx context.Context, t *team, distinctID string, fromRequest map[string]any) (props map[string]any, known bool) {
	if hasAll(fromRequest, t.propKeys) {
		h.metrics.personLookups.WithLabelValues("skipped").Inc()
		return fromRequest, true
	}
	return h.overStored(ctx, h.metrics.personLookups, "person", fromRequest, func() (map[string]any, bool, error) {
		return h.storedProperties(ctx, t.id, distinctID)
	})
}

// overStored reads stored properties of a person or group (what) and puts the
// request's on top, counting the lookup's outcome in lookups. known is false
// when the read failed; the request's properties are then all there is.
func (h *Handler) overStored(ctx context.Context, lookups *prometheus.CounterVec, what string, fromRequest map[string]any,
	read func() (map[string]any, bool, error)) (props map[string]any, known bool) {
	stored, found, err := read()
	switch {
	case err != nil:
		lookups.WithLabelValues("error").Inc()
		h.log.WarnContext(ctx, "decide: "+what+" lookup failed; flags needing "+what+" properties are left out", "err", err)
		return fromRequest, false
	case !found:
		lookups.WithLabelValues("not_found").Inc()
		return fromRequest, true
	}
	lookups.WithLabelValues("found").Inc()
	return overlay(stored, fromRequest), true
}

// overlay returns stored with the keys of fromRequest written over it (the
// request wins); stored may be nil and is changed in place otherwise.
func overlay(stored, fromRequest map[string]any) map[string]any {
	if stored == nil {
		stored = make(map[string]any, len(fromRequest))
	}
	for k, v := range fromRequest {
		stored[k] = v
	}
	return stored
}
