package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestTrafficStepNeedsATrafficHook(t *testing.T) {
	base := Options{ChartDir: "../../charts/reference-stack", KubeVersions: []string{"1.34.4"}, Clouds: []string{NoCloud},
		Start: func(context.Context, string) (Cluster, error) { return nil, nil }}
	o, err := base.withDefaults()
	if err != nil || slices.Contains(o.Steps, StepTraffic) {
		t.Errorf("without Options.Traffic the default steps are %v (err %v): traffic needs pods that run", o.Steps, err)
	}
	asked := base
	asked.Steps = []Step{StepInstall, StepTraffic}
	if _, err := asked.withDefaults(); err == nil || !strings.Contains(err.Error(), "--nodes real") {
		t.Errorf("the traffic step without a hook: %v, want an error naming the fix", err)
	}
	hooked := base
	hooked.Traffic = func(context.Context, TrafficTarget) (string, error) { return "", nil }
	o, err = hooked.withDefaults()
	if err != nil || !slices.Equal(o.Steps, stepOrder()) {
		t.Errorf("with a hook the steps are %v (err %v), want %v", o.Steps, err, stepOrder())
	}
	if i, j := slices.Index(o.Steps, StepAssert), slices.Index(o.Steps, StepTraffic); j != i+1 {
		t.Errorf("traffic runs at %d, assert at %d: traffic goes right after assert, before upgrade changes anything", j, i)
	}
}
