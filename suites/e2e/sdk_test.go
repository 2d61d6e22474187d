package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
)

// addSDKFlags configures the flags the SDK tests read on the stack's project
// and returns its team id: a boolean with a payload, a multivariate flag
// forced to "b", and a flag for persons whose plan is pro.
func addSDKFlags(t *testing.T, s *local.Stack) int64 {
	t.Helper()
	ctx := context.Background()
	var teamID int64
	if err := s.Postgres.QueryRow(ctx, `SELECT id FROM teams WHERE api_token = $1`, s.Endpoints.Token).Scan(&teamID); err != nil {
		t.Fatal(err)
	}
	for key, filters := range map[string]string{
		"checkout": `{"groups":[{"properties":[],"rollout_percentage":100}],"payloads":{"true":"{\"color\":\"blue\"}"}}`,
		"pricing":  `{"groups":[{"properties":[],"rollout_percentage":100,"variant":"b"}],"multivariate":{"variants":[{"key":"a","rollout_percentage":50},{"key":"b","rollout_percentage":50}]}}`,
		"pro-only": `{"groups":[{"properties":[{"key":"plan","value":["pro"],"operator":"exact","type":"person"}],"rollout_percentage":100}]}`,
	} {
		if _, err := s.Postgres.Exec(ctx, `INSERT INTO feature_flags (team_id, key, name, active, deleted, filters) VALUES ($1, $2, $2, true, false, $3::jsonb)`,
			teamID, key, filters); err != nil {
			t.Fatal(err)
		}
	}
	return teamID
}

// checkSDKEvents checks that every capture an SDK delivered is stored exactly
// once, that the identify and alias of person and the group identify of
// company acme were stored, and that the alias joined person's person.
func checkSDKEvents(t *testing.T, s *local.Stack, teamID int64, uuids []string, person, alias string) {
	t.Helper()
	ctx := context.Background()
	stored, err := WaitStored(ctx, s.ClickHouse, s.Database, uuids, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Rows != uint64(len(uuids)) || stored.Distinct != uint64(len(uuids)) {
		t.Fatalf("sent %d captures, stored %d rows (%d distinct), missing %v", len(uuids), stored.Rows, stored.Distinct, stored.Missing)
	}
	var others uint64
	q := fmt.Sprintf("SELECT count() FROM `%s`.events FINAL WHERE event IN ('$identify', '$create_alias', '$groupidentify') AND distinct_id IN ('%s', '$company_acme')",
		s.Database, person)
	if err := s.ClickHouse.QueryRow(ctx, q).Scan(&others); err != nil || others != 3 {
		t.Errorf("identify and alias of %s and group identify stored: %d (%v), want 3", person, others, err)
	}
	var merged bool
	if err := s.Postgres.QueryRow(ctx, `SELECT a.person_id = b.person_id FROM person_distinct_ids a, person_distinct_ids b
		WHERE a.team_id = $1 AND b.team_id = $1 AND a.distinct_id = $2 AND b.distinct_id = $3`, teamID, person, alias).Scan(&merged); err != nil || !merged {
		t.Errorf("alias %s did not join %s's person: %v", alias, person, err)
	}
}
