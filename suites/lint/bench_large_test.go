package lint

import (
	"testing"
)

// largeChartFewVersions are 3 of the 13 versions, to show how peak RSS grows
// with the number of versions.
var largeChartFewVersions = []string{"1.22.17", "1.28.15", "1.34.4"}

// BenchmarkLintLargeChartVsHelmLint lints a generated chart of about 1,000
// objects at 13 Kubernetes versions with shakedown (lint.Run over the chart's
// 2 cloud overlays, 26 cells) and with `helm lint --strict` looped over the
// same matrix (26 runs of the Helm SDK's lint.RunAll, one per overlay × version),
// each contender in a fresh process so that its peak RSS is its own. Every
// iteration runs both, alternating which goes first, plus shakedown at 3
// versions. Metrics: wall time per contender (process start included, the
// same for both), ratio = helm time / shakedown time (> 1: shakedown is
// faster), CPU time per contender (user + system: steadier than wall time
// on a shared machine; shakedown runs cells on every core, the helm loop on
// one), peak RSS per contender, and idle-peak-MB, the test binary's own
// footprint that every peak includes.
func BenchmarkLintLargeChartVsHelmLint(b *testing.B) {
	dir := b.TempDir()
	writeLargeChart(b, dir, largeChartObjects)
	idle := runLargeChartChild(b, contenderIdle, dir, largeChartVersions)
	b.Log(idle)

	type totals struct{ seconds, cpu, peakMB float64 }
	var shakedown, helm, shakedown3 totals
	add := func(into *totals, r largeChildRun) {
		b.Log(r)
		into.seconds += r.Wall.Seconds()
		into.cpu += r.CPU.Seconds()
		into.peakMB = max(into.peakMB, r.PeakRSSMB)
		if r.Failures > 0 {
			b.Errorf("%s does not pass on the large chart: %d failures: %s", r.Contender, r.Failures, r.Summary)
		}
	}
	n := 0
	for b.Loop() {
		runShakedown := func() { add(&shakedown, runLargeChartChild(b, contenderShakedown, dir, largeChartVersions)) }
		runHelm := func() { add(&helm, runLargeChartChild(b, contenderHelm, dir, largeChartVersions)) }
		if n%2 == 0 {
			runShakedown()
			runHelm()
		} else {
			runHelm()
			runShakedown()
		}
		add(&shakedown3, runLargeChartChild(b, contenderShakedown, dir, largeChartFewVersions))
		n++
	}
	b.ReportMetric(0, "ns/op") // the sum of three contenders means nothing
	b.ReportMetric(shakedown.seconds/float64(n), "shakedown-s/op")
	b.ReportMetric(helm.seconds/float64(n), "helm-s/op")
	b.ReportMetric(helm.seconds/shakedown.seconds, "ratio")
	b.ReportMetric(shakedown.cpu/float64(n), "shakedown-cpu-s/op")
	b.ReportMetric(helm.cpu/float64(n), "helm-cpu-s/op")
	b.ReportMetric(shakedown.peakMB, "shakedown-peak-MB")
	b.ReportMetric(helm.peakMB, "helm-peak-MB")
	b.ReportMetric(shakedown3.peakMB, "shakedown-3v-peak-MB")
	b.ReportMetric(idle.PeakRSSMB, "idle-peak-MB")
}

// BenchmarkLintLargeChartMemoryFlatInVersions holds shakedown lint of the
// 1,000-object chart at 13 versions (2 overlays, 26 cells) to the issue's
// 250 MB peak RSS. It is a benchmark rather than a test because one run takes
// over a minute on 2 cores, too long for `make test`.
func BenchmarkLintLargeChartMemoryFlatInVersions(b *testing.B) {
	dir := b.TempDir()
	writeLargeChart(b, dir, largeChartObjects)
	var peak float64
	for b.Loop() {
		r := runLargeChartChild(b, contenderShakedown, dir, largeChartVersions)
		b.Log(r)
		if r.Failures > 0 {
			b.Errorf("the large chart does not lint clean: %s", r.Summary)
		}
		peak = max(peak, r.PeakRSSMB)
	}
	b.ReportMetric(peak, "peak-MB")
	if peak > largeChartPeakRSSLimitMB {
		b.Errorf("shakedown lint of %d objects at %d versions peaked at %.0f MB RSS, over the %d MB budget",
			largeChartObjects, len(largeChartVersions), peak, largeChartPeakRSSLimitMB)
	}
}
