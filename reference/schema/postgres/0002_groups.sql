-- Groups, as PostHog has them: a team names up to 5 group types ("company", "project"...),
-- each bound to an index 0..4 that selects the events column $group_<index>. The worker
-- allocates the lowest free index the first time it sees a type; a 6th type is not mapped.
CREATE TABLE IF NOT EXISTS group_type_mapping (
    team_id          BIGINT  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    group_type       TEXT    NOT NULL,
    group_type_index INTEGER NOT NULL CHECK (group_type_index BETWEEN 0 AND 4),
    PRIMARY KEY (team_id, group_type_index),
    UNIQUE (team_id, group_type)
);

-- One row per group (e.g. company "acme"); $groupidentify sets its properties.
-- version counts the changes of group_properties.
CREATE TABLE IF NOT EXISTS groups (
    team_id          BIGINT      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    group_type_index INTEGER     NOT NULL CHECK (group_type_index BETWEEN 0 AND 4),
    group_key        TEXT        NOT NULL,
    group_properties JSONB       NOT NULL DEFAULT '{}'::jsonb,
    version          BIGINT      NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, group_type_index, group_key)
);
