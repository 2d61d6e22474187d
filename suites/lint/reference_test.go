package lint

import (
	"bytes"
	"path/filepath"
	"testing"
)

// referenceChart is the project's chart, relative to this package.
var referenceChart = filepath.Join("..", "..", "charts", "reference-stack")

// TestReferenceStackChart lints charts/reference-stack over every overlay and
// the project's Kubernetes versions; it fails on any unwaived error.
func TestReferenceStackChart(t *testing.T) {
	r := lintChart(t, Options{ChartDir: referenceChart})
	var buf bytes.Buffer
	if err := EncodeText(&buf, r); err != nil {
		t.Fatal(err)
	}
	t.Logf("shakedown lint %s:\n%s", referenceChart, buf.String())
	if len(r.Clouds) < 5 {
		t.Errorf("linted overlays %v, want the five cloud overlays", r.Clouds)
	}
	if r.Objects == 0 {
		t.Error("the chart rendered no objects")
	}
	if r.Failed() {
		t.Errorf("the reference chart fails lint: %s", r.Summary())
	}
}
