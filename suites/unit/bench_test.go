package unit

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"
)

// BenchmarkUnitVsHelmUnittest runs the same suites through the helm-unittest
// CLI (built from the module version the engine comes from) and through Run,
// alternating within each iteration so both see the same machine, and reports
// helm-unittest's time over shakedown's as "ratio" (above 1: shakedown is
// faster). Run is set up as `shakedown unit` runs it: workers on every core
// and the collector at WorkerGCPercent.
func BenchmarkUnitVsHelmUnittest(b *testing.B) {
	cli, mod, _ := helmUnittestCLI(b)
	data := copyTestData(b, mod.Dir)
	reference, err := filepath.Abs(referenceChart)
	if err != nil {
		b.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(WorkerGCPercent))
	for _, c := range []struct{ name, chart string }{
		{"reference-stack", copyChart(b, reference)},
		{"basic", filepath.Join(data, "v3", "basic")},
	} {
		b.Run(c.name, func(b *testing.B) {
			var theirs, ours time.Duration
			for b.Loop() {
				start := time.Now()
				cmd := exec.Command(cli, c.chart)
				cmd.Stdout, cmd.Stderr = nil, nil
				if err := cmd.Run(); err != nil {
					b.Fatalf("helm-unittest %s: %v", c.chart, err)
				}
				theirs += time.Since(start)
				start = time.Now()
				rep, err := Run(context.Background(), Options{Charts: []string{c.chart}, Worker: testWorker})
				if err != nil || rep.Failed() {
					b.Fatalf("shakedown unit %s: err %v, failed %v", c.chart, err, rep.Failed())
				}
				ours += time.Since(start)
			}
			n := float64(b.N)
			b.ReportMetric(float64(theirs.Milliseconds())/n, "helm-unittest-ms/op")
			b.ReportMetric(float64(ours.Milliseconds())/n, "shakedown-ms/op")
			b.ReportMetric(theirs.Seconds()/ours.Seconds(), "ratio")
		})
	}
}
