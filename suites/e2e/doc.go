// Package e2e is the end-to-end layer: events sent to a running reference stack's
// capture API must equal events stored in its ClickHouse, under load, restarts and
// bad input. It works against any stack whose endpoints are known (local, docker,
// kubernetes, remote); its tests use the local provider.
//
// An event's person is read with ResolvePersons, never from events.person_id alone:
// that column keeps the person of ingestion time, which a later merge may have deleted;
// ResolvePersons follows person_overrides to the person that survived.
package e2e
