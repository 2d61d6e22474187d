-- One row per event. ReplacingMergeTree keyed by (team_id, uuid) folds the duplicates that
-- at-least-once delivery can write; read with FINAL (or count distinct uuid) for exact results.
-- No PARTITION BY on purpose: a duplicate must land in the same partition to be folded.
-- Types stay inside ClickHouse 18.16 (no DateTime64, Map, JSON, Bool).
CREATE TABLE IF NOT EXISTS {db}.events (
    uuid        UUID,
    team_id     Int64,
    event       String,
    distinct_id String,
    person_id   UUID,
    properties  String,
    timestamp   DateTime,
    created_at  DateTime,
    ip          String,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY (team_id, uuid)
