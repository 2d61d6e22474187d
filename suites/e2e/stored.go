package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
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

// countChunk bounds how many uuids one query names.
const countChunk = 2000

// CountStored reports how many of uuids are stored in database.events. It reads only
// the rows of those uuids, so it is cheap on a production table too.
func CountStored(ctx context.Context, conn driver.Conn, database string, uuids []string) (Stored, error) {
	var s Stored
	table := fmt.Sprintf("`%s`.events", database)
	have := make(map[string]struct{}, len(uuids))
	for start := 0; start < len(uuids); start += countChunk {
		list, err := uuidList(uuids[start:min(start+countChunk, len(uuids))])
		if err != nil {
			return s, err
		}
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" FINAL WHERE uuid IN ("+list+")").Scan(&rows); err != nil {
			return s, fmt.Errorf("count rows in %s: %w", table, err)
		}
		s.Rows += rows
		res, err := conn.Query(ctx, "SELECT toString(uuid), count() FROM "+table+" WHERE uuid IN ("+list+") GROUP BY uuid")
		if err != nil {
			return s, fmt.Errorf("list uuids in %s: %w", table, err)
		}
		for res.Next() {
			var u string
			var n uint64
			if err := res.Scan(&u, &n); err != nil {
				res.Close()
				return s, fmt.Errorf("read uuid: %w", err)
			}
			have[u] = struct{}{}
			s.RawRows += n
		}
		err = res.Err()
		res.Close()
		if err != nil {
			return s, fmt.Errorf("list uuids in %s: %w", table, err)
		}
	}
	s.Distinct = uint64(len(have))
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

// uuidList renders uuids as a SQL list of quoted literals. Each is parsed first, so
// nothing but canonical uuids reaches the query (the driver would bind a slice as an
// Array, which ClickHouse 18.16 refuses in IN).
func uuidList(uuids []string) (string, error) {
	var b strings.Builder
	for i, raw := range uuids {
		u, err := uuid.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("event uuid %q: %w", raw, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + u.String() + "'")
	}
	return b.String(), nil
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
