-- Copy of PostgreSQL's person_overrides, written by the worker in the same flush as the
-- events of the merge that caused them. A row says: events of team_id stored with
-- person_id = old_person_id belong to override_person_id. Rows are only ever added;
-- ReplacingMergeTree(version) folds the repeats a redelivery writes, and readers take
-- argMax(override_person_id, version) per (team_id, old_person_id), since folding
-- happens in the background. A row whose override_person_id equals old_person_id
-- clears an earlier override (that person was created again).
-- Types stay inside ClickHouse 18.16.
CREATE TABLE IF NOT EXISTS {db}.person_overrides (
    team_id            Int64,
    old_person_id      UUID,
    override_person_id UUID,
    version            UInt64,
    inserted_at        DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, old_person_id)
