package worker

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxGroupTypes is how many group types a team can have, as in PostHog: indexes 0..4,
// which select the events columns $group_0..$group_4.
const maxGroupTypes = 5

// maxUnmappedWarnings bounds the set of (team, type) already warned about; it is
// emptied when full, so a flood of junk type names costs memory once, not forever.
const maxUnmappedWarnings = 10_000

// groupRef is one entry of an event's $groups: a group type and the group's key.
type groupRef struct {
	typ, key string
}

// groupIdentify is what a $groupidentify event sets: the group ($group_type,
// $group_key) and the properties of $group_set (a JSON object, "{}" when absent).
type groupIdentify struct {
	groupRef
	set []byte
}

// groupTypeKey names one group type of one team.
type groupTypeKey struct {
	team int64
	typ  string
}

// groupTypeCache maps group type names to their indexes per team, allocating the
// lowest free index in PostgreSQL group_type_mapping for a type seen first. A team's
// mapping only grows, so hits are kept for good: a hot path asks PostgreSQL only for a
// type it has not seen yet, and never once the team has all five.
type groupTypeCache struct {
	pool *pgxpool.Pool

	mu     sync.Mutex
	teams  map[int64]map[string]int // team -> type -> index
	warned map[groupTypeKey]struct{}
}

func newGroupTypeCache(pool *pgxpool.Pool) *groupTypeCache {
	return &groupTypeCache{pool: pool, teams: map[int64]map[string]int{}, warned: map[groupTypeKey]struct{}{}}
}

// index returns the index of typ in team, allocating one when the team has fewer than
// five types; ok is false when the team has five others (PostHog's limit). An error
// means PostgreSQL could not be asked, or refused typ for good (see isPermanent).
func (c *groupTypeCache) index(ctx context.Context, team int64, typ string) (idx int, ok bool, err error) {
	c.mu.Lock()
	mapping := c.teams[team]
	idx, ok = mapping[typ]
	c.mu.Unlock()
	if ok || len(mapping) >= maxGroupTypes {
		return idx, ok, nil
	}
	if mapping, err = ensureGroupType(ctx, c.pool, team, typ); err != nil {
		return 0, false, err
	}
	c.mu.Lock()
	c.teams[team] = mapping
	c.mu.Unlock()
	idx, ok = mapping[typ]
	return idx, ok, nil
}

// firstUnmapped reports whether (team, typ) was not reported as unmapped before.
func (c *groupTypeCache) firstUnmapped(team int64, typ string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := groupTypeKey{team, typ}
	if _, seen := c.warned[k]; seen {
		return false
	}
	if len(c.warned) >= maxUnmappedWarnings {
		c.warned = map[groupTypeKey]struct{}{}
	}
	c.warned[k] = struct{}{}
	return true
}

// ensureGroupType gives typ the lowest free index of team unless it has one or all
// are taken, and returns the team's whole mapping. It is race-safe across workers:
// the insert does nothing on either unique key's conflict, and when a concurrent
// writer took the index this one picked, the next round picks the next free one.
// Repeating it changes nothing.
func ensureGroupType(ctx context.Context, pool *pgxpool.Pool, team int64, typ string) (map[string]int, error) {
	for range maxGroupTypes + 1 { // each round that leaves typ unmapped saw another type take an index
		_, err := pool.Exec(ctx, `INSERT INTO group_type_mapping (team_id, group_type, group_type_index)
			SELECT $1::bigint, $2::text, i FROM generate_series(0, $3::int - 1) AS i
			WHERE NOT EXISTS (SELECT 1 FROM group_type_mapping m WHERE m.team_id = $1 AND m.group_type_index = i)
			  AND NOT EXISTS (SELECT 1 FROM group_type_mapping m WHERE m.team_id = $1 AND m.group_type = $2)
			ORDER BY i LIMIT 1
			ON CONFLICT DO NOTHING`, team, typ, maxGroupTypes)
		if err != nil {
			return nil, fmt.Errorf("allocate group type %q of team %d: %w", typ, team, err)
		}
		mapping, err := groupTypes(ctx, pool, team)
		if err != nil {
			return nil, err
		}
		if _, ok := mapping[typ]; ok || len(mapping) >= maxGroupTypes {
			return mapping, nil
		}
	}
	return nil, fmt.Errorf("allocate group type %q of team %d: no index after %d rounds of concurrent allocation", typ, team, maxGroupTypes+1)
}

// groupTypes reads team's group type mapping: type -> index.
func groupTypes(ctx context.Context, pool *pgxpool.Pool, team int64) (map[string]int, error) {
	rows, err := pool.Query(ctx, `SELECT group_type, group_type_index FROM group_type_mapping WHERE team_id = $1`, team)
	if err != nil {
		return nil, fmt.Errorf("read group types of team %d: %w", team, err)
	}
	out := map[string]int{}
	var (
		typ string
		idx int
	)
	if _, err := pgx.ForEachRow(rows, []any{&typ, &idx}, func() error { out[typ] = idx; return nil }); err != nil {
		return nil, fmt.Errorf("read group types of team %d: %w", team, err)
	}
	return out, nil
}

// upsertGroup creates the group (team, index, key) or merges set into its properties
// (set semantics: set's keys win). version moves only when the properties change, so a
// replay changes nothing.
func upsertGroup(ctx context.Context, pool *pgxpool.Pool, team int64, index int, key string, set []byte) error {
	_, err := pool.Exec(ctx, `INSERT INTO groups (team_id, group_type_index, group_key, group_properties)
		VALUES ($1, $2, $3, $4::jsonb)
		ON CONFLICT (team_id, group_type_index, group_key) DO UPDATE
		SET group_properties = groups.group_properties || EXCLUDED.group_properties, version = groups.version + 1
		WHERE (groups.group_properties || EXCLUDED.group_properties) IS DISTINCT FROM groups.group_properties`,
		team, index, key, string(set))
	if err != nil {
		return fmt.Errorf("set properties of group %q (type index %d) of team %d: %w", key, index, team, err)
	}
	return nil
}

// resolveGroups, for every item of seg with a team, fills its $group_N keys from
// $groups and applies its $groupidentify. Items done in an earlier attempt are skipped.
func (w *Worker) resolveGroups(ctx context.Context, seg []item) error {
	for k := range seg {
		it := &seg[k]
		if it.poison != nil || it.team == 0 || it.groupsDone {
			continue
		}
		if err := w.resolveItemGroups(ctx, it); err != nil {
			return err
		}
		it.groupsDone = true
	}
	return nil
}

// resolveItemGroups maps the item's group types to indexes (allocating new ones) and
// upserts the group of a $groupidentify.
func (w *Worker) resolveItemGroups(ctx context.Context, it *item) error {
	for _, g := range it.ev.groups {
		idx, ok, err := w.groupIndex(ctx, it.team, g.typ)
		if err != nil {
			return err
		}
		if ok {
			it.groupKeys[idx] = g.key
		}
	}
	gi := it.ev.groupIdentify
	if gi == nil {
		return nil
	}
	idx, ok, err := w.groupIndex(ctx, it.team, gi.typ)
	if err != nil || !ok {
		return err
	}
	return upsertGroup(ctx, w.cfg.Postgres, it.team, idx, gi.key, gi.set)
}

// groupIndex is groupTypeCache.index that counts each event whose group type could
// not be mapped and warns once per type: the event is stored without that group.
func (w *Worker) groupIndex(ctx context.Context, team int64, typ string) (int, bool, error) {
	idx, ok, err := w.groupTypes.index(ctx, team, typ)
	if err != nil || ok {
		return idx, ok, err
	}
	w.metrics.groupTypesUnmapped.Inc()
	if w.groupTypes.firstUnmapped(team, typ) {
		w.log.Warn("group type not mapped: the team has 5 group types already (PostHog's limit); its events are stored without this group",
			"team", team, "group_type", typ)
	}
	return 0, false, nil
}
