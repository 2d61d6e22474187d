// Package decide is the reference stack's feature-flag read path: a
// PostHog-compatible `/decide` endpoint (v=2, v=3, and v=4 tolerated) and `/flags`
// that evaluate the feature flags stored in PostgreSQL for one distinct_id and its
// groups.
//
// Flags, project tokens and each team's group types (group_type_mapping) are cached
// in memory and refreshed every Config.RefreshInterval (see Handler.Run and
// Handler.Refresh); a failed refresh keeps the last good cache. Person properties
// come from the request's person_properties, overriding those stored in PostgreSQL
// for the distinct_id's person; group properties come from the request's
// group_properties (type name -> object), overriding those stored in groups. The
// database is read only when a flag needs a property the request did not carry.
//
// Evaluation follows PostHog's documented algorithm: a condition group matches when
// all its property filters match and sha1("<flag key>.<id>") — its first 15 hex
// digits over 0xFFFFFFFFFFFFFFF — is at most rollout_percentage/100; groups are
// OR'ed; a multivariate flag picks the variant whose cumulative range holds the same
// hash computed with the salt "variant". For a person flag the id is the
// distinct_id and the filters read person properties. For a group-aggregated flag
// (aggregation_group_type_index N) the id is the key the request's "groups" gives
// for N's type name and the filters ("type":"group") read that group's properties;
// without such a key, or when the team has no type N, the flag is false with reason
// no_group_type, as in PostHog. Answers are therefore deterministic per id and
// identical across instances.
//
// Not evaluated (the flag answers false and errorsWhileComputingFlags is true):
// cohort and other filter types, person filters inside a group-aggregated flag,
// group filters outside a flag aggregated by their group type, and conditions
// aggregated differently from their flag (mixed targeting).
package decide
