package e2e

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
)

// resolvePersonsSQL maps events to their person as of now: events.person_id is the
// person the event had when it was ingested, which a later $identify or $create_alias
// may have merged away; person_overrides says where each merged person went. The
// worker keeps those rows flat (every target is a live person), so one lookup is
// enough; argMax takes the newest version of an override whose repeats ClickHouse has
// not folded yet. ClickHouse 18.16 needs the join spelled ANY LEFT JOIN (subquery)
// USING, and gives an unmatched right side the zero uuid: the event keeps its person.
// %[1]s is the database (quoted), %[2]s the list of event uuids.
const resolvePersonsSQL = `SELECT toString(uuid),
	toString(if(override_person_id = toUUID('00000000-0000-0000-0000-000000000000'), person_id, override_person_id))
FROM (SELECT uuid, team_id, person_id FROM %[1]s.events FINAL WHERE uuid IN (%[2]s))
ANY LEFT JOIN (
	SELECT team_id, old_person_id AS person_id, argMax(override_person_id, version) AS override_person_id
	FROM %[1]s.person_overrides
	WHERE (team_id, old_person_id) IN (SELECT team_id, person_id FROM %[1]s.events WHERE uuid IN (%[2]s))
	GROUP BY team_id, old_person_id
) USING (team_id, person_id)`

// ResolvePersons returns the person (a canonical uuid string) each stored event of
// uuids belongs to now, keyed by the event uuid as given; events not stored are absent.
//
// events.person_id alone is not the answer: it is the person the event resolved to when
// it was ingested, and a later merge ($identify, $create_alias) deletes the merged
// person, leaving its events pointing at a person that no longer exists. This function
// follows person_overrides, as PostHog does. Every harness query of an event's person
// must go through it, never read events.person_id directly.
func ResolvePersons(ctx context.Context, conn driver.Conn, database string, uuids []string) (map[string]string, error) {
	db := fmt.Sprintf("`%s`", database)
	out := make(map[string]string, len(uuids))
	for start := 0; start < len(uuids); start += countChunk {
		chunk := uuids[start:min(start+countChunk, len(uuids))]
		list, err := uuidList(chunk)
		if err != nil {
			return nil, err
		}
		given := make(map[string][]string, len(chunk)) // canonical -> as given
		for _, u := range chunk {
			id, _ := uuid.Parse(u) // uuidList refused any that does not parse
			given[id.String()] = append(given[id.String()], u)
		}
		rows, err := conn.Query(ctx, fmt.Sprintf(resolvePersonsSQL, db, list))
		if err != nil {
			return nil, fmt.Errorf("resolve persons of events in %s through person_overrides: %w", db, err)
		}
		for rows.Next() {
			var ev, person string
			if err := rows.Scan(&ev, &person); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read resolved person from %s: %w", db, err)
			}
			for _, u := range given[ev] {
				out[u] = person
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("resolve persons of events in %s through person_overrides: %w", db, err)
		}
	}
	return out, nil
}
