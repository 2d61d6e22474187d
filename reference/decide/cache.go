package decide

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// snapshot is one immutable load of teams and their flags; the handler swaps
// whole snapshots atomically, so a request always sees one consistent load.
type snapshot struct {
	// teams maps a project API token to its team.
	teams    map[string]*team
	loadedAt time.Time
	flags    int
}

// team is a project with its active, non-deleted flags, sorted by key.
type team struct {
	id    int64
	flags []*flag
	// propKeys is the union of the person property keys the person flags read; when
	// the request carries all of them, the person is not read from PostgreSQL.
	propKeys []string
	// groupTypes is the team's group_type_mapping: index -> type name.
	groupTypes map[int]string
	// groupPropKeys is, per group type index, the union of the group property keys
	// the flags aggregated by it read; the group is read from PostgreSQL only when
	// the request's group_properties lack one.
	groupPropKeys map[int][]string
}

// loadSnapshot reads every team, its group types and every active, non-deleted flag
// in one read-only, repeatable-read transaction.
func loadSnapshot(ctx context.Context, db pgxBeginner, now time.Time) (*snapshot, []error, error) {
	snap := &snapshot{teams: map[string]*team{}, loadedAt: now}
	byID := map[int64]*team{}
	var flagErrs []error
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, api_token FROM teams`)
		if err != nil {
			return fmt.Errorf("query teams: %w", err)
		}
		var (
			id    int64
			token string
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &token}, func() error {
			t := &team{id: id, groupTypes: map[int]string{}}
			snap.teams[token] = t
			byID[id] = t
			return nil
		})
		if err != nil {
			return fmt.Errorf("read teams: %w", err)
		}
		if err := loadGroupTypes(ctx, tx, byID); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT team_id, id, key, filters::text FROM feature_flags
			WHERE active AND NOT deleted ORDER BY team_id, key`)
		if err != nil {
			return fmt.Errorf("query feature_flags: %w", err)
		}
		var (
			teamID, flagID int64
			key            string
			filters        string
		)
		_, err = pgx.ForEachRow(rows, []any{&teamID, &flagID, &key, &filters}, func() error {
			t := byID[teamID]
			if t == nil {
				return nil
			}
			f, err := compileFlag(key, []byte(filters))
			if err != nil {
				flagErrs = append(flagErrs, fmt.Errorf("team %d: %w", teamID, err))
				f = &flag{key: key, groupIndex: personAggregation, unsupported: err.Error()}
			}
			f.id = flagID
			t.flags = append(t.flags, f)
			snap.flags++
			return nil
		})
		if err != nil {
			return fmt.Errorf("read feature_flags: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, t := range byID {
		t.propKeys = unionKeys(t.flags, personAggregation)
		t.groupPropKeys = map[int][]string{}
		for idx := range t.groupTypes {
			if keys := unionKeys(t.flags, idx); len(keys) > 0 {
				t.groupPropKeys[idx] = keys
			}
		}
	}
	return snap, flagErrs, nil
}

// loadGroupTypes reads group_type_mapping into the teams of byID.
func loadGroupTypes(ctx context.Context, tx pgx.Tx, byID map[int64]*team) error {
	rows, err := tx.Query(ctx, `SELECT team_id, group_type_index, group_type FROM group_type_mapping`)
	if err != nil {
		return fmt.Errorf("query group_type_mapping: %w", err)
	}
	var (
		teamID int64
		index  int
		name   string
	)
	_, err = pgx.ForEachRow(rows, []any{&teamID, &index, &name}, func() error {
		if t := byID[teamID]; t != nil {
			t.groupTypes[index] = name
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read group_type_mapping: %w", err)
	}
	return nil
}

// pgxBeginner is what loadSnapshot needs of a pool.
type pgxBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// unionKeys lists the property keys read by the flags aggregated by groupIndex
// (personAggregation: the person flags), sorted.
func unionKeys(flags []*flag, groupIndex int) []string {
	seen := map[string]struct{}{}
	var out []string
	for _, f := range flags {
		if f.groupIndex != groupIndex {
			continue
		}
		for _, k := range f.propKeys {
			if _, ok := seen[k]; !ok {
				seen[k] = struct{}{}
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
