package unit

import (
	"bytes"
	"testing"
)

// referenceChart is the project's chart, whose suites must all pass.
const referenceChart = "../../charts/reference-stack"

// minChartCases is the floor of test cases the chart's suites hold.
const minChartCases = 200

func TestReferenceStackChart(t *testing.T) {
	rep := run(t, Options{Charts: []string{referenceChart}, KubeVersions: []string{"1.28.15", "1.34.4"}})
	if rep.Failed() {
		var out bytes.Buffer
		EncodeText(&out, rep)
		t.Fatalf("chart suites failed:\n%s", out.String())
	}
	c := rep.Count()
	if c.Tests.Passed < 2*minChartCases {
		t.Fatalf("chart has %d unit cases over 2 versions, want at least %d", c.Tests.Passed, 2*minChartCases)
	}
	t.Logf("%d suites, %d cases passed over 2 Kubernetes versions in %s", c.Suites.Passed, c.Tests.Passed, rep.Duration)
}
