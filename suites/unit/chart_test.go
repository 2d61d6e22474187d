package unit

import (
	"bytes"
	"context"
	"testing"
)

// referenceChart is the real chart whose suites must all pass.
const referenceChart = "../../charts/reference-stack"

// minChartCases is the floor of test cases the chart's suites hold.
const minChartCases = 160

func TestReferenceStackChart(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{ChartDir: referenceChart, Out: &out})
	if err != nil {
		t.Fatalf("run the chart's suites: %v\n%s", err, out.String())
	}
	if !res.Passed {
		t.Fatalf("chart suites failed:\n%s", out.String())
	}
	if n := res.TestsPassed; n < minChartCases {
		t.Fatalf("chart has %d unit cases, want at least %d", n, minChartCases)
	}
	t.Logf("%d suites, %d cases passed in %s", res.SuitesPassed, res.TestsPassed, res.Duration)
}
