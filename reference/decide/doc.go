// Package decide is the reference stack's feature-flag read path: a
// PostHog-compatible `/decide` endpoint (v=2, v=3, and v=4 tolerated) that
// evaluates the feature flags stored in PostgreSQL for one distinct_id.
//
// Flags and project tokens are cached in memory and refreshed every
// Config.RefreshInterval (see Handler.Run and Handler.Refresh); a failed refresh
// keeps the last good cache. Person properties come from the request's
// person_properties, overriding those stored in PostgreSQL for the distinct_id's
// person; the database is read only when a flag needs a property the request did
// not carry.
//
// Evaluation follows PostHog's documented algorithm: a condition group matches when
// all its person-property filters match and sha1("<flag key>.<distinct_id>") — its
// first 15 hex digits over 0xFFFFFFFFFFFFFFF — is at most rollout_percentage/100;
// groups are OR'ed; a multivariate flag picks the variant whose cumulative range holds
// the same hash computed with the salt "variant". Answers are therefore deterministic
// per distinct_id and identical across instances.
//
// Not evaluated (the flag answers false and errorsWhileComputingFlags is true): cohort
// and group property filters, and group-aggregated flags (aggregation_group_type_index),
// since the reference schema has no cohorts or group types.
package decide
