package unit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchCases is how many unit cases one benchmark iteration runs.
const benchCases = 500

// benchChart copies the reference chart and clones its suites, each clone
// with its own `set` so renders are not shared between clones, until at
// least benchCases cases exist. It returns the chart dir and the case count.
func benchChart(b *testing.B) (string, int) {
	b.Helper()
	dir := copyDir(b, referenceChart)
	suites, err := filepath.Glob(filepath.Join(dir, "tests", "*_test.yaml"))
	if err != nil || len(suites) == 0 {
		b.Fatalf("no suites in the chart copy: %v", err)
	}
	cases := 0
	for clone := 0; cases < benchCases; clone++ {
		for _, s := range suites {
			if cases >= benchCases {
				break
			}
			st, err := loadSuite(s)
			if err != nil {
				b.Fatal(err)
			}
			data, _ := os.ReadFile(s)
			text := string(data)
			if clone > 0 {
				// A suite-level set makes every render of the clone distinct.
				text = fmt.Sprintf("set:\n  app.env.BENCH_CLONE: \"%d\"\n%s", clone, text)
				name := filepath.Join(dir, "tests", fmt.Sprintf("clone%d_%s", clone, filepath.Base(s)))
				if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			cases += len(st.Tests)
		}
	}
	return dir, cases
}

// BenchmarkUnit500 runs at least 500 unit cases of the reference chart per
// iteration, rendering each case in-process with the Helm SDK.
func BenchmarkUnit500(b *testing.B) {
	dir, cases := benchChart(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), Options{ChartDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Passed || res.TestsPassed != cases {
			b.Fatalf("want %d passing cases, got %d passed %d failed", cases, res.TestsPassed, res.TestsFailed)
		}
	}
	b.ReportMetric(float64(cases), "cases/op")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(cases), "µs/case")
}
