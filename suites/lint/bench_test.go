package lint

import (
	"context"
	"testing"
)

// BenchmarkRunFiveOverlaysThreeVersions lints testdata/good over its 5 cloud
// overlays × 3 Kubernetes versions (15 renders); the target is < 2 s per op.
func BenchmarkRunFiveOverlaysThreeVersions(b *testing.B) {
	opts := Options{ChartDir: "testdata/good", KubeVersions: []string{"1.28.15", "1.30.14", "1.34.4"}}
	for b.Loop() {
		r, err := Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Clouds) != 5 || r.Failed() {
			b.Fatalf("unexpected report: %s", r.Summary())
		}
	}
}

// BenchmarkRunReferenceStack lints the real chart over its overlays × the matrix.
func BenchmarkRunReferenceStack(b *testing.B) {
	opts := Options{ChartDir: referenceChart}
	if _, err := Run(context.Background(), opts); err != nil {
		b.Skipf("reference chart: %v", err)
	}
	for b.Loop() {
		if _, err := Run(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}
