package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The flags a run configures and reads back; all keys start with "shakedown-"
// so that a run against a real project touches no flag of its own.
const (
	flagCheckout = "shakedown-checkout" // boolean for everyone, payload {"color":"blue"}
	flagPricing  = "shakedown-pricing"  // multivariate a/b, forced to "b"
	flagProOnly  = "shakedown-pro-only" // persons whose plan is pro
	flagGroup    = "shakedown-group"    // companies with more than 10 seats
	groupType    = "company"
)

// checkoutPayload is the payload of flagCheckout, as the SDKs return it decoded.
const checkoutPayload = `{"color":"blue"}`

// flagFilters returns each flag's filters in PostHog's format; groupIndex is
// the team's group type index of "company".
func flagFilters(groupIndex int) map[string]string {
	return map[string]string{
		flagCheckout: `{"groups":[{"properties":[],"rollout_percentage":100}],"payloads":{"true":"{\"color\":\"blue\"}"}}`,
		flagPricing:  `{"groups":[{"properties":[],"rollout_percentage":100,"variant":"b"}],"multivariate":{"variants":[{"key":"a","rollout_percentage":50},{"key":"b","rollout_percentage":50}]}}`,
		flagProOnly:  `{"groups":[{"properties":[{"key":"plan","value":["pro"],"operator":"exact","type":"person"}],"rollout_percentage":100}]}`,
		flagGroup: fmt.Sprintf(`{"aggregation_group_type_index":%d,"groups":[{"properties":[{"key":"seats","value":10,"operator":"gt","type":"group","group_type_index":%d}],"rollout_percentage":100}]}`,
			groupIndex, groupIndex),
	}
}

// project is the deployment's project behind the token, as PostgreSQL knows it.
type project struct {
	pool       *pgxpool.Pool
	team       int64
	groupIndex int
}

// configureFlags finds the token's team, makes sure it has the "company"
// group type, and writes (or rewrites) the run's flags.
func configureFlags(ctx context.Context, pool *pgxpool.Pool, token string) (*project, error) {
	p := &project{pool: pool}
	err := pool.QueryRow(ctx, `SELECT id FROM teams WHERE api_token = $1`, token).Scan(&p.team)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("no project in PostgreSQL has the token %q: pass the token of that deployment's project", token)
	}
	if err != nil {
		return nil, fmt.Errorf("read the project of the token from PostgreSQL: %w", err)
	}
	if p.groupIndex, err = ensureGroupType(ctx, pool, p.team, groupType); err != nil {
		return nil, err
	}
	for key, filters := range flagFilters(p.groupIndex) {
		_, err := pool.Exec(ctx, `INSERT INTO feature_flags (team_id, key, name, active, deleted, filters)
			VALUES ($1, $2, $2, true, false, $3::jsonb)
			ON CONFLICT (team_id, key) DO UPDATE SET active = true, deleted = false, filters = EXCLUDED.filters, updated_at = now()`,
			p.team, key, filters)
		if err != nil {
			return nil, fmt.Errorf("write flag %s of team %d: %w", key, p.team, err)
		}
	}
	return p, nil
}

// ensureGroupType returns the index of group type name in team, taking the
// lowest free one (of PostHog's five) when the team has none yet.
func ensureGroupType(ctx context.Context, pool *pgxpool.Pool, team int64, name string) (int, error) {
	_, err := pool.Exec(ctx, `INSERT INTO group_type_mapping (team_id, group_type, group_type_index)
		SELECT $1, $2, i FROM generate_series(0, 4) AS i
		WHERE NOT EXISTS (SELECT 1 FROM group_type_mapping m WHERE m.team_id = $1 AND (m.group_type_index = i OR m.group_type = $2))
		ORDER BY i LIMIT 1
		ON CONFLICT DO NOTHING`, team, name)
	if err != nil {
		return 0, fmt.Errorf("add group type %q to team %d: %w", name, team, err)
	}
	var idx int
	err = pool.QueryRow(ctx, `SELECT group_type_index FROM group_type_mapping WHERE team_id = $1 AND group_type = $2`, team, name).Scan(&idx)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("team %d already has 5 group types and no %q: the group flag cannot be configured", team, name)
	}
	if err != nil {
		return 0, fmt.Errorf("read group type %q of team %d: %w", name, team, err)
	}
	return idx, nil
}

// waitFlagsServed polls until the deployment's flags endpoint serves the
// run's flags (decide caches them for a few seconds).
func waitFlagsServed(ctx context.Context, client httpDoer, target, token string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		v, err := askFlag(ctx, client, target, token, flagGroup)
		if err == nil && v {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s still absent", flagGroup)
			}
			return fmt.Errorf("the flags written to PostgreSQL were not served by %s/flags within %s: %w", target, wait, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
