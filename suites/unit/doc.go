// Package unit is shakedown's unit layer for Helm charts: it runs
// helm-unittest YAML suites (tests/*_test.yaml) unchanged, in-process, with
// the Helm v4 SDK. Charts are loaded with the chart loader and rendered with
// the template engine per test case (release, capabilities, chart metadata,
// values files and --set style values as each suite or case says), then
// checked with helm-unittest's assertion set and path syntax.
//
// Output mirrors helm-unittest (PASS/FAIL per suite, failure details, a
// summary) and can also be written as JUnit XML. Snapshots live in
// __snapshot__/<suite file>.snap beside each suite, in helm-unittest's format.
package unit
