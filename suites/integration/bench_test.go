package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/suites/integration"
)

// BenchmarkInstallUpgradeRollback measures one version's install (previous
// release) + upgrade (working tree) + rollback, each waiting for readiness,
// on a warm local 1.34.4 control plane started once. Uninstall and namespace
// setup are outside the timer. Target: < 30 s per op.
func BenchmarkInstallUpgradeRollback(b *testing.B) {
	ctx := context.Background()
	cl := startLocal(b, "1.34.4")
	prev, err := integration.LoadChart(ctx, previousRelease(b), referenceChart, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	work, err := integration.LoadChart(ctx, referenceChart, referenceChart, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	prevVals, err := integration.ChartValues(prev, "aws", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	workVals, err := integration.ChartValues(work, "aws", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var install, upgrade, rollback time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		target := newNamespace(b, cl, fmt.Sprintf("bench-%d", i))
		b.StartTimer()

		t0 := time.Now()
		if _, err := (&integration.Install{Target: target, ReleaseName: "rs", Chart: prev, Values: prevVals, Timeout: 2 * time.Minute}).Run(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := (&integration.Upgrade{Target: target, ReleaseName: "rs", Chart: work, Values: workVals, Timeout: 2 * time.Minute}).Run(ctx); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := (&integration.Rollback{Target: target, ReleaseName: "rs", Revision: 1, Timeout: 2 * time.Minute}).Run(ctx); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		install, upgrade, rollback = install+t1.Sub(t0), upgrade+t2.Sub(t1), rollback+t3.Sub(t2)

		b.StopTimer()
		if err := (&integration.Uninstall{Target: target, ReleaseName: "rs", Timeout: time.Minute}).Run(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(install.Seconds()/n, "s-install/op")
	b.ReportMetric(upgrade.Seconds()/n, "s-upgrade/op")
	b.ReportMetric(rollback.Seconds()/n, "s-rollback/op")
}
