// Package unit is shakedown's unit layer for Helm charts: it runs
// helm-unittest suites (tests/*_test.yaml) with helm-unittest's own engine
// (github.com/helm-unittest/helm-unittest/pkg/unittest), so every verdict is
// the one helm-unittest gives, and adds what its CLI lacks: suites run in
// parallel across cores, every suite once per Kubernetes version of a matrix
// (KubeVersions), several charts in one call, snapshots written only when
// asked (UpdateSnapshots), and a report that encodes as text, JSON or one of
// helm-unittest's XML formats (JUnit, NUnit, XUnit, Sonar).
//
// The engine renders with Helm v3, as the suites it runs expect: Helm 4 drops
// null chart defaults that Helm 3 keeps, which changes hashes of
// `toYaml .Values` and the snapshots of existing suites.
//
// Where it departs from helm-unittest's CLI, on purpose: each suite starts
// from Helm's default Kubernetes version (the engine lets a case's version
// leak into the suites run after it, so CLI verdicts depend on file order); a
// suite file that does not parse fails its chart even in a subchart (the CLI
// prints the error but passes the chart); snapshot files are never written
// without UpdateSnapshots. Everything else, down to the text of each failure,
// is the engine's.
//
// Use it like helm's pkg/action: fill Options, call [Run], read the [Report].
package unit
