// Package e2e is the end-to-end layer: events sent to a running reference stack's
// capture API must equal events stored in its ClickHouse, under load, restarts and
// bad input. It works against any stack whose endpoints are known (local, docker,
// kubernetes, remote); its tests use the local provider.
package e2e
