-- The key of each of the event's groups, by group type index (group_type_mapping in
-- PostgreSQL), as PostHog's events table has them; '' when the event has no group of
-- that type. ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: ApplyClickHouse
-- implements the clause itself (it checks system.columns), so write one column per
-- statement.
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS `$group_0` String DEFAULT '';
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS `$group_1` String DEFAULT '';
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS `$group_2` String DEFAULT '';
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS `$group_3` String DEFAULT '';
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS `$group_4` String DEFAULT '';
