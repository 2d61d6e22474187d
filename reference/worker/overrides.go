package worker

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// personOverride is one row of person_overrides: events of team stored with person_id
// old belong to person override. override == old clears an earlier override (old was
// created again); PostgreSQL drops such rows, ClickHouse keeps them as the newest version.
type personOverride struct {
	team     int64
	old      uuid.UUID
	override uuid.UUID
	version  int64
}

// overrideKey identifies an override the way ClickHouse's person_overrides folds them.
type overrideKey struct {
	team int64
	old  uuid.UUID
}

// recordOverride notes in tx that from was merged into into: from -> into is added, and
// every override whose target was from now targets into, so the table stays flat (one
// lookup resolves any chain of merges). Each changed row gets a new version.
func recordOverride(ctx context.Context, tx pgx.Tx, team int64, from, into uuid.UUID) error {
	_, err := tx.Exec(ctx, `INSERT INTO person_overrides (team_id, old_person_uuid, override_person_uuid)
		VALUES ($1, $2, $3)
		ON CONFLICT (team_id, old_person_uuid) DO UPDATE
		SET override_person_uuid = EXCLUDED.override_person_uuid, version = nextval('person_overrides_version')`,
		team, from, into)
	if err != nil {
		return fmt.Errorf("add person override %s -> %s: %w", from, into, err)
	}
	_, err = tx.Exec(ctx, `UPDATE person_overrides SET override_person_uuid = $3, version = nextval('person_overrides_version')
		WHERE team_id = $1 AND override_person_uuid = $2`, team, from, into)
	if err != nil {
		return fmt.Errorf("re-point person overrides of %s to %s: %w", from, into, err)
	}
	return nil
}

// overridesOnto reads in tx every override of team whose target is person: after a
// merge into person, these are the rows ClickHouse must have. A replayed merge changes
// nothing in PostgreSQL but reads them again, so a flush lost to a crash is made good.
func overridesOnto(ctx context.Context, tx pgx.Tx, team int64, person uuid.UUID) ([]personOverride, error) {
	rows, err := tx.Query(ctx, `SELECT old_person_uuid, version FROM person_overrides
		WHERE team_id = $1 AND override_person_uuid = $2`, team, person)
	if err != nil {
		return nil, fmt.Errorf("read person overrides onto %s: %w", person, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (personOverride, error) {
		o := personOverride{team: team, override: person}
		return o, r.Scan(&o.old, &o.version)
	})
	if err != nil {
		return nil, fmt.Errorf("read person overrides onto %s: %w", person, err)
	}
	return out, nil
}

// clearOverrideSQL deletes the overrides of team $1 whose old person is one of $2 and
// exists (was created again), returning for each a clearing row with a new version.
// Candidates that were inserted and removed again in the same transaction do not exist
// any more and keep their override.
const clearOverrideSQL = `DELETE FROM person_overrides o USING persons p
	WHERE o.team_id = $1 AND o.old_person_uuid = ANY($2::uuid[])
	  AND p.team_id = o.team_id AND p.uuid = o.old_person_uuid
	RETURNING o.old_person_uuid, nextval('person_overrides_version')`

// scanClearedOverrides reads clearOverrideSQL's answer as clearing rows (override == old).
func scanClearedOverrides(rows pgx.Rows, team int64) ([]personOverride, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (personOverride, error) {
		o := personOverride{team: team}
		err := r.Scan(&o.old, &o.version)
		o.override = o.old
		return o, err
	})
}

// clearOverrides removes in tx the overrides of the given live persons of team: a person
// created again with a uuid that was merged away must not point elsewhere.
func clearOverrides(ctx context.Context, tx pgx.Tx, team int64, persons ...uuid.UUID) ([]personOverride, error) {
	rows, err := tx.Query(ctx, clearOverrideSQL, team, persons)
	if err != nil {
		return nil, fmt.Errorf("clear person overrides of %v: %w", persons, err)
	}
	out, err := scanClearedOverrides(rows, team)
	if err != nil {
		return nil, fmt.Errorf("clear person overrides of %v: %w", persons, err)
	}
	return out, nil
}

// insertOverrides writes rows to database.person_overrides in one native batch.
// Repeats are harmless: the table keeps the highest version per (team_id, old_person_id).
func insertOverrides(ctx context.Context, conn driver.Conn, database string, rows []personOverride) error {
	if len(rows) == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+quoteIdent(database)+
		".person_overrides (team_id, old_person_id, override_person_id, version)")
	if err != nil {
		return fmt.Errorf("clickhouse: prepare person_overrides batch: %w", err)
	}
	for _, r := range rows {
		if err := batch.Append(r.team, r.old, r.override, uint64(r.version)); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("clickhouse: append person override %s -> %s: %w", r.old, r.override, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: send %d person overrides: %w", len(rows), err)
	}
	return nil
}
