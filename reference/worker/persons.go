package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// personNamespace seeds the deterministic person uuids: the person first made for
// (team, distinct_id) always gets the same uuid, so a replayed message creates nothing new.
var personNamespace = uuid.MustParse("a4b3c5d0-5ea4-4ed0-9c1e-5a4ed0000001")

// mergeLockKey is the first key of the transaction-scoped advisory lock that serialises
// merges within a team (the second key is the team id).
const mergeLockKey = 0x5ea4ed1

// personUUID is the uuid of the person created for distinctID in team.
func personUUID(team int64, distinctID string) uuid.UUID {
	return uuid.NewSHA1(personNamespace, []byte(strconv.FormatInt(team, 10)+":"+distinctID))
}

// personStore reads and writes persons and person_distinct_ids. Every write is
// idempotent: replaying the same call leaves the same rows.
type personStore struct{ pool *pgxpool.Pool }

// lookupMany returns the person uuid of each distinct id of team that has one.
func (s personStore) lookupMany(ctx context.Context, team int64, distinctIDs []string) (map[string]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.distinct_id, p.uuid FROM person_distinct_ids d
		JOIN persons p ON p.id = d.person_id WHERE d.team_id = $1 AND d.distinct_id = ANY($2)`, team, distinctIDs)
	if err != nil {
		return nil, fmt.Errorf("look up persons of team %d: %w", team, err)
	}
	out := make(map[string]uuid.UUID, len(distinctIDs))
	var did string
	var id uuid.UUID
	_, err = pgx.ForEachRow(rows, []any{&did, &id}, func() error { out[did] = id; return nil })
	if err != nil {
		return nil, fmt.Errorf("look up persons of team %d: %w", team, err)
	}
	return out, nil
}

// getOrCreate returns the person of (team, distinctID), creating it when missing, and
// the overrides the creation cleared (see getOrCreateMany).
func (s personStore) getOrCreate(ctx context.Context, team int64, distinctID string) (uuid.UUID, []personOverride, error) {
	found, cleared, err := s.getOrCreateMany(ctx, team, []string{distinctID})
	if err != nil {
		return uuid.Nil, nil, err
	}
	return found[distinctID], cleared, nil
}

// getOrCreateMany returns the person of every distinct id of team, creating the missing
// ones in one transaction. Candidates get deterministic uuids (personUUID), so a replay
// creates nothing new; a candidate beaten by a concurrent writer is removed again.
// A person created with a uuid that was merged away loses its person override in the
// same transaction; the returned clearing rows are for ClickHouse's person_overrides.
func (s personStore) getOrCreateMany(ctx context.Context, team int64, distinctIDs []string) (map[string]uuid.UUID, []personOverride, error) {
	found, err := s.lookupMany(ctx, team, distinctIDs)
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	seen := make(map[string]bool, len(distinctIDs))
	for _, did := range distinctIDs {
		if _, ok := found[did]; !ok && !seen[did] {
			seen[did] = true
			missing = append(missing, did)
		}
	}
	if len(missing) == 0 {
		return found, nil, nil
	}
	slices.Sort(missing) // a fixed lock order keeps concurrent workers from deadlocking
	candidates := make([]uuid.UUID, len(missing))
	for i, did := range missing {
		candidates[i] = personUUID(team, did)
	}
	var cleared []personOverride
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO persons (team_id, uuid) SELECT $1, u FROM unnest($2::uuid[]) AS u
			ON CONFLICT (team_id, uuid) DO NOTHING`, team, candidates)
		b.Queue(`INSERT INTO person_distinct_ids (team_id, distinct_id, person_id)
			SELECT $1, t.did, p.id FROM unnest($2::text[], $3::uuid[]) AS t(did, u)
			JOIN persons p ON p.team_id = $1 AND p.uuid = t.u
			ON CONFLICT (team_id, distinct_id) DO NOTHING`, team, missing, candidates)
		b.Queue(`SELECT d.distinct_id, p.uuid FROM person_distinct_ids d JOIN persons p ON p.id = d.person_id
			WHERE d.team_id = $1 AND d.distinct_id = ANY($2)`, team, missing).Query(func(rows pgx.Rows) error {
			var did string
			var id uuid.UUID
			_, err := pgx.ForEachRow(rows, []any{&did, &id}, func() error { found[did] = id; return nil })
			return err
		})
		b.Queue(`DELETE FROM persons p WHERE p.team_id = $1 AND p.uuid = ANY($2)
			AND NOT EXISTS (SELECT 1 FROM person_distinct_ids d WHERE d.person_id = p.id)`, team, candidates)
		b.Queue(clearOverrideSQL, team, candidates).Query(func(rows pgx.Rows) error {
			var err error
			cleared, err = scanClearedOverrides(rows, team)
			return err
		})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create %d persons for team %d: %w", len(missing), team, err)
	}
	return found, cleared, nil
}

// applySet applies $set_once (only keys the person lacks) then $set (overwrites) to the
// person of (team, distinctID); version moves only when properties change.
func (s personStore) applySet(ctx context.Context, team int64, distinctID string, set, setOnce []byte) error {
	if set == nil && setOnce == nil {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE persons p
		SET properties = $3::jsonb || p.properties || $4::jsonb, version = p.version + 1
		FROM person_distinct_ids d
		WHERE d.team_id = $1 AND d.distinct_id = $2 AND p.id = d.person_id
		  AND ($3::jsonb || p.properties || $4::jsonb) IS DISTINCT FROM p.properties`,
		team, distinctID, jsonOrEmpty(setOnce), jsonOrEmpty(set))
	if err != nil {
		return fmt.Errorf("set properties of team %d distinct_id %q: %w", team, distinctID, err)
	}
	return nil
}

func jsonOrEmpty(b []byte) string {
	if b == nil {
		return "{}"
	}
	return string(b)
}

// personRow is a person as merge reads it.
type personRow struct {
	id         int64
	uuid       uuid.UUID
	identified bool
}

// merge joins other's person into keep's, in one transaction: $identify (identify=true,
// other = $anon_distinct_id) and $create_alias (other = alias). The survivor is always
// keep's person when both have one; other's person's distinct ids move to it, its
// properties fill the keys the survivor lacks, and it is deleted, leaving a person
// override to the survivor (recordOverride). Replaying a merge finds both distinct ids
// on one person and changes nothing.
//
// Whenever both distinct ids have a person (a merge, or its replay), it also returns
// every override whose target is the survivor, for ClickHouse's person_overrides; when
// it creates a person, the override that person's uuid had, cleared.
func (s personStore) merge(ctx context.Context, team int64, keep, other string, identify bool) (uuid.UUID, []personOverride, error) {
	var out uuid.UUID
	var overrides []personOverride
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::int)", mergeLockKey, team); err != nil {
			return fmt.Errorf("lock team: %w", err)
		}
		kp, err := personOf(ctx, tx, team, keep)
		if err != nil {
			return err
		}
		op, err := personOf(ctx, tx, team, other)
		if err != nil {
			return err
		}
		bothHavePersons := kp != nil && op != nil
		// joined is the distinct id that had no person and now has kp's.
		// Its personless events ($process_person_profile: false) were stored
		// with personUUID(joined): an override points them at kp.
		var joined string
		switch {
		case kp == nil && op == nil:
			p, err := createPerson(ctx, tx, team, keep)
			if err != nil {
				return err
			}
			if err := addDistinctIDs(ctx, tx, team, p.id, keep, other); err != nil {
				return err
			}
			if overrides, err = clearOverrides(ctx, tx, team, p.uuid); err != nil {
				return err
			}
			kp, joined = p, other
		case kp == nil:
			if err := addDistinctIDs(ctx, tx, team, op.id, keep); err != nil {
				return err
			}
			kp, joined = op, keep
		case op == nil:
			if err := addDistinctIDs(ctx, tx, team, kp.id, other); err != nil {
				return err
			}
			joined = other
		case kp.id != op.id:
			if err := mergePersons(ctx, tx, kp, op, identify); err != nil {
				return err
			}
			if err := recordOverride(ctx, tx, team, op.uuid, kp.uuid); err != nil {
				return err
			}
			identify = false // done by mergePersons
		}
		if identify && !kp.identified {
			if _, err := tx.Exec(ctx, "UPDATE persons SET is_identified = true, version = version + 1 WHERE id = $1", kp.id); err != nil {
				return fmt.Errorf("mark person identified: %w", err)
			}
		}
		if joined != "" {
			if pl := personUUID(team, joined); pl != kp.uuid {
				if err := recordOverride(ctx, tx, team, pl, kp.uuid); err != nil {
					return err
				}
			}
		}
		if bothHavePersons || joined != "" {
			onto, err := overridesOnto(ctx, tx, team, kp.uuid)
			if err != nil {
				return err
			}
			overrides = append(overrides, onto...)
		}
		out = kp.uuid
		return nil
	})
	if err != nil {
		return uuid.Nil, nil, fmt.Errorf("merge distinct_id %q into %q (team %d): %w", other, keep, team, err)
	}
	return out, overrides, nil
}

// personOf locks and returns the person of distinctID, or nil.
func personOf(ctx context.Context, tx pgx.Tx, team int64, distinctID string) (*personRow, error) {
	var p personRow
	err := tx.QueryRow(ctx, `SELECT p.id, p.uuid, p.is_identified FROM person_distinct_ids d
		JOIN persons p ON p.id = d.person_id WHERE d.team_id = $1 AND d.distinct_id = $2
		FOR UPDATE OF p`, team, distinctID).Scan(&p.id, &p.uuid, &p.identified)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read person of %q: %w", distinctID, err)
	}
	return &p, nil
}

// createPerson inserts (or finds) the deterministic person of distinctID.
func createPerson(ctx context.Context, tx pgx.Tx, team int64, distinctID string) (*personRow, error) {
	p := personRow{uuid: personUUID(team, distinctID)}
	err := tx.QueryRow(ctx, `INSERT INTO persons (team_id, uuid) VALUES ($1, $2)
		ON CONFLICT (team_id, uuid) DO UPDATE SET uuid = EXCLUDED.uuid
		RETURNING id, is_identified`, team, p.uuid).Scan(&p.id, &p.identified)
	if err != nil {
		return nil, fmt.Errorf("create person for %q: %w", distinctID, err)
	}
	return &p, nil
}

// addDistinctIDs points each distinct id at person; ones already pointing elsewhere move.
func addDistinctIDs(ctx context.Context, tx pgx.Tx, team, person int64, distinctIDs ...string) error {
	for _, did := range distinctIDs {
		_, err := tx.Exec(ctx, `INSERT INTO person_distinct_ids (team_id, distinct_id, person_id) VALUES ($1, $2, $3)
			ON CONFLICT (team_id, distinct_id) DO UPDATE SET person_id = EXCLUDED.person_id`, team, did, person)
		if err != nil {
			return fmt.Errorf("add distinct_id %q: %w", did, err)
		}
	}
	return nil
}

// mergePersons moves from's distinct ids to into, merges properties (into's win), sets
// is_identified and deletes from.
func mergePersons(ctx context.Context, tx pgx.Tx, into, from *personRow, identify bool) error {
	if _, err := tx.Exec(ctx, "UPDATE person_distinct_ids SET person_id = $1 WHERE person_id = $2", into.id, from.id); err != nil {
		return fmt.Errorf("move distinct_ids of person %s: %w", from.uuid, err)
	}
	_, err := tx.Exec(ctx, `UPDATE persons p SET properties = f.properties || p.properties,
		is_identified = p.is_identified OR f.is_identified OR $3, version = p.version + 1
		FROM persons f WHERE p.id = $1 AND f.id = $2`, into.id, from.id, identify)
	if err != nil {
		return fmt.Errorf("merge properties of person %s into %s: %w", from.uuid, into.uuid, err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM persons WHERE id = $1", from.id); err != nil {
		return fmt.Errorf("delete merged person %s: %w", from.uuid, err)
	}
	return nil
}
