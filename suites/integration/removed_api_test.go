package integration_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/suites/integration"
)

// flowSchemaV1beta2 uses flowcontrol.apiserver.k8s.io/v1beta2, served by
// Kubernetes 1.28 (deprecated) and removed in 1.29.
const flowSchemaV1beta2 = `apiVersion: flowcontrol.apiserver.k8s.io/v1beta2
kind: FlowSchema
metadata:
  name: {{ .Release.Name }}-{{ .Release.Namespace }}-workers
spec:
  priorityLevelConfiguration:
    name: workload-low
  matchingPrecedence: 1000
  distinguisherMethod:
    type: ByUser
  rules:
    - subjects:
        - kind: ServiceAccount
          serviceAccount:
            name: {{ .Release.Name }}-reference-stack
            namespace: {{ .Release.Namespace }}
      resourceRules:
        - verbs: ["get", "list"]
          apiGroups: [""]
          resources: ["configmaps"]
          namespaces: ["{{ .Release.Namespace }}"]
`

// TestRemovedAPIInstallsOn128AndFailsOn134 adds an object of an API removed
// in 1.29 to a copy of the chart: it must install on 1.28.15 and fail on
// 1.34.4 with a message naming the API, in both the dry run and the install.
func TestRemovedAPIInstallsOn128AndFailsOn134(t *testing.T) {
	chart := editedChart(t, map[string][]string{"+templates/flowschema.yaml": {flowSchemaV1beta2}})
	report, err := integration.Run(context.Background(), integration.Options{
		ChartDir:     chart,
		KubeVersions: []string{"1.28.15", "1.34.4"},
		Clouds:       []string{"aws"},
		Start:        localStarter,
		Steps:        []integration.Step{integration.StepInstall, integration.StepUninstall},
		StepTimeout:  2 * time.Minute,
		Parallel:     2,
	})
	if err != nil {
		t.Fatal(err)
	}
	const api = "flowcontrol.apiserver.k8s.io/v1beta2"
	if row, _ := report.Row("1.28.15", "aws", integration.StepInstall); row.Status != integration.StatusPass {
		t.Errorf("install on 1.28.15: %s: %s", row.Status, row.Message)
	}
	if row, _ := report.Row("1.28.15", "aws", integration.StepUninstall); row.Status != integration.StatusPass {
		t.Errorf("uninstall on 1.28.15 (the FlowSchema must go too): %s: %s", row.Status, row.Message)
	}
	row, _ := report.Row("1.34.4", "aws", integration.StepInstall)
	if row.Status != integration.StatusFail || !strings.Contains(row.Message, api) {
		t.Errorf("install on 1.34.4: %s: %q, want a failure naming %s", row.Status, row.Message, api)
	}
	if row, _ := report.Row("1.34.4", "aws", integration.StepUninstall); row.Status != integration.StatusPass {
		t.Errorf("cleanup after the failed install on 1.34.4: %s: %s", row.Status, row.Message)
	}
	t.Logf("1.34.4 install failure: %s", row.Message)
	if !report.Failed() {
		t.Error("report with a failed install does not say it failed")
	}

	// The server-side dry run names the API as well.
	report, err = integration.Run(context.Background(), integration.Options{
		ChartDir: chart, KubeVersions: []string{"1.34.4"}, Clouds: []string{"aws"}, Start: localStarter,
		Steps: []integration.Step{integration.StepDryRun},
	})
	if err != nil {
		t.Fatal(err)
	}
	if row, _ := report.Row("1.34.4", "aws", integration.StepDryRun); row.Status != integration.StatusFail || !strings.Contains(row.Message, api) {
		t.Errorf("dry run on 1.34.4: %s: %q, want a failure naming %s", row.Status, row.Message, api)
	}
}
