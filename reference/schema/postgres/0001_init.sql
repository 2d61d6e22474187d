-- Projects ("teams" in PostHog): each has one project API token.
CREATE TABLE IF NOT EXISTS teams (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT        NOT NULL,
    api_token   TEXT        NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A person is one human; many distinct_ids may point at it after $identify / $create_alias.
CREATE TABLE IF NOT EXISTS persons (
    id            BIGSERIAL PRIMARY KEY,
    team_id       BIGINT      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    uuid          UUID        NOT NULL,
    properties    JSONB       NOT NULL DEFAULT '{}'::jsonb,
    is_identified BOOLEAN     NOT NULL DEFAULT false,
    version       BIGINT      NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, uuid)
);

CREATE TABLE IF NOT EXISTS person_distinct_ids (
    team_id     BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    distinct_id TEXT   NOT NULL,
    person_id   BIGINT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, distinct_id)
);
CREATE INDEX IF NOT EXISTS person_distinct_ids_person_id ON person_distinct_ids (person_id);

-- Feature flags in PostHog's filter format:
-- {"groups":[{"properties":[{"key":"email","value":"@x.com","operator":"icontains","type":"person"}],
--             "rollout_percentage":50}]}
CREATE TABLE IF NOT EXISTS feature_flags (
    id          BIGSERIAL PRIMARY KEY,
    team_id     BIGINT      NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    key         TEXT        NOT NULL,
    name        TEXT        NOT NULL DEFAULT '',
    active      BOOLEAN     NOT NULL DEFAULT true,
    deleted     BOOLEAN     NOT NULL DEFAULT false,
    filters     JSONB       NOT NULL DEFAULT '{}'::jsonb,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, key)
);
