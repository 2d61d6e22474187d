package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// groupQuery reads one group's stored properties through the groups primary key.
const groupQuery = `SELECT group_properties::text FROM groups
	WHERE team_id = $1 AND group_type_index = $2 AND group_key = $3`

// requestGroups returns the request's groups as type name -> key. Keys are strings,
// or numbers in their JSON text; empty keys and other values are ignored.
func requestGroups(req *decideRequest) map[string]string {
	out := make(map[string]string, len(req.Groups))
	for typ, v := range req.Groups {
		var key string
		switch k := v.(type) {
		case string:
			key = k
		case json.Number:
			key = k.String()
		}
		if key != "" {
			out[typ] = key
		}
	}
	return out
}

// requestGroupProperties returns the request's group_properties of group type typ;
// nil when absent or not an object.
func requestGroupProperties(req *decideRequest, typ string) map[string]any {
	props, _ := req.GroupProperties[typ].(map[string]any)
	return props
}

// groupSubjects returns a subject per group of the request whose type t has mapped:
// the group key, and its properties (see groupProperties).
func (h *Handler) groupSubjects(ctx context.Context, t *team, req *decideRequest) map[string]subject {
	keys := requestGroups(req)
	if len(keys) == 0 {
		return nil
	}
	out := make(map[string]subject, len(keys))
	for idx, typ := range t.groupTypes {
		key, ok := keys[typ]
		if !ok {
			continue
		}
		props, known := h.groupProperties(ctx, t, idx, key, requestGroupProperties(req, typ))
		out[typ] = subject{id: key, props: props, known: known}
	}
	return out
}

// groupProperties merges the stored properties of group (index, key) under the
// request's group_properties for it (the request wins). The database is read only
// when the flags aggregated by index need a key the request lacks. known is false
// when that read failed.
func (h *Handler) groupProperties(ctx context.Context, t *team, index int, key string, fromRequest map[string]any) (props map[string]any, known bool) {
	need := t.groupPropKeys[index]
	if len(need) == 0 {
		return fromRequest, true
	}
	if hasAll(fromRequest, need) {
		h.metrics.groupLookups.WithLabelValues("skipped").Inc()
		return fromRequest, true
	}
	return h.overStored(ctx, h.metrics.groupLookups, "group", fromRequest, func() (map[string]any, bool, error) {
		return h.storedGroupProperties(ctx, t.id, index, key)
	})
}

// storedGroupProperties returns the stored properties of group (index, key) of
// teamID; found is false when no such group was identified.
func (h *Handler) storedGroupProperties(ctx context.Context, teamID int64, index int, key string) (props map[string]any, found bool, err error) {
	var text string
	err = h.cfg.Postgres.QueryRow(ctx, groupQuery, teamID, index, key).Scan(&text)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read group %q (type index %d) of team %d: %w", key, index, teamID, err)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	if err := dec.Decode(&props); err != nil {
		return nil, false, fmt.Errorf("decode properties of group %q (type index %d) of team %d: %w", key, index, teamID, err)
	}
	return props, true, nil
}
