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
// Use it like helm's pkg/action: fill Options, call [Run], read the [Report].
package unit
