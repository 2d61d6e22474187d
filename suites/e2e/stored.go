package e2e

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Stored is what ClickHouse holds for a set of sent uuids.
type Stored struct {
	// Rows is the row count after folding duplicates (SELECT count() ... FINAL).
	Rows uint64
	// Distinct is the number of distinct uuids stored.
	Distinct uint64
	// RawRows counts rows before folding: more than Distinct means duplicates were
	// written and are being folded by the table engine.
	RawRows uint64
	// Missing are sent uuids not found (at most 20 listed).
	Missing []string
	// MissingCount is how many sent uuids were not found.
	MissingCount int
}

// CountStored reports how many of uuids are stored in database.events.
func CountStored(ctx context.Context, conn driver.Conn, database string, uuids []string) (Stored, error) {
	var s Stored
	table := fmt.Sprintf("`%s`.events", database)
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" FINAL").Scan(&s.Rows); err != nil {
		return s, fmt.Errorf("count rows in %s: %w", table, err)
	}
	if err := conn.QueryRow(ctx, "SELECT uniqExact(uuid), count() FROM "+table).Scan(&s.Distinct, &s.RawRows); err != nil {
		return s, fmt.Errorf("count distinct uuids in %s: %w", table, err)
	}
	rows, err := conn.Query(ctx, "SELECT DISTINCT toString(uuid) FROM "+table)
	if err != nil {
		return s, fmt.Errorf("list uuids in %s: %w", table, err)
	}
	defer rows.Close()
	have := make(map[string]struct{}, s.Distinct)
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return s, fmt.Errorf("read uuid: %w", err)
		}
		have[u] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("list uuids in %s: %w", table, err)
	}
	for _, u := range uuids {
		if _, ok := have[u]; !ok {
			s.MissingCount++
			if len(s.Missing) < 20 {
				s.Missing = append(s.Missing, u)
			}
		}
	}
	return s, nil
}

// WaitStored polls until every uuid is stored or timeout passes, and returns the last count.
func WaitStored(ctx context.Context, conn driver.Conn, database string, uuids []string, timeout time.Duration) (Stored, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, err := CountStored(ctx, conn, database, uuids)
		if err == nil && s.MissingCount == 0 {
			// The counts were taken before the last uuids arrived: take them again now
			// that everything is in, so they describe the final state.
			return CountStored(ctx, conn, database, uuids)
		}
		if time.Now().After(deadline) {
			if err != nil {
				return s, err
			}
			return s, fmt.Errorf("%d of %d sent events not in ClickHouse after %s (first missing: %v)", s.MissingCount, len(uuids), timeout, s.Missing)
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
