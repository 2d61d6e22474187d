-- person_overrides remembers, for every person merged away by $identify / $create_alias,
-- the person it was merged into, so events already stored in ClickHouse with the old
-- person's uuid can be attributed to the person that survived.
--
-- The table is kept flat inside the merge's own transaction: override_person_uuid is
-- always a live person, never itself an old_person_uuid, so one lookup resolves any
-- chain of merges (A into B, then B into C, gives A -> C and B -> C). A person created
-- again with a uuid that is an old_person_uuid (person uuids are deterministic) removes
-- that row in its creating transaction: a live person is never overridden.
--
-- version grows with every insert or change (person_overrides_version); ClickHouse's
-- copy of this table keeps the highest version of each (team_id, old_person_uuid).
CREATE SEQUENCE IF NOT EXISTS person_overrides_version;

CREATE TABLE IF NOT EXISTS person_overrides (
    team_id              BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    old_person_uuid      UUID   NOT NULL,
    override_person_uuid UUID   NOT NULL,
    version              BIGINT NOT NULL DEFAULT nextval('person_overrides_version'),
    PRIMARY KEY (team_id, old_person_uuid),
    CHECK (old_person_uuid <> override_person_uuid)
);
-- A merge re-points every override whose target was the merged-away person.
CREATE INDEX IF NOT EXISTS person_overrides_target ON person_overrides (team_id, override_person_uuid);
