package worker

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// insertEvents writes rows to database.events in one native batch.
func insertEvents(ctx context.Context, conn driver.Conn, database string, rows []eventRow) error {
	if len(rows) == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+quoteIdent(database)+
		".events (uuid, team_id, event, distinct_id, person_id, properties, timestamp, created_at, ip,"+
		" `$group_0`, `$group_1`, `$group_2`, `$group_3`, `$group_4`)")
	if err != nil {
		return fmt.Errorf("clickhouse: prepare events batch: %w", err)
	}
	for _, r := range rows {
		g := r.groups
		if err := batch.Append(r.uuid, r.teamID, r.event, r.distinctID, r.personID, r.properties, r.timestamp, r.createdAt, r.ip,
			g[0], g[1], g[2], g[3], g[4]); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("clickhouse: append event %s: %w", r.uuid, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: send %d events: %w", len(rows), err)
	}
	return nil
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "\\`") + "`" }
