package unit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/helm-unittest/helm-unittest/pkg/unittest/results"
)

func TestResultModelHasACheckPerCase(t *testing.T) {
	r := Report{Duration: time.Second, Runs: []*ChartRun{
		{Chart: "web", Path: "charts/web", KubeVersion: "1.34.4", Suites: []*results.TestSuiteResult{{
			DisplayName: "deployment", FilePath: "tests/deployment_test.yaml",
			TestsResult: []*results.TestJobResult{
				{DisplayName: "sets replicas", Passed: true},
				{DisplayName: "sets the image", AssertsResult: []*results.AssertionResult{{Index: 0, AssertType: "equal", FailInfo: []string{"Expected: a", "Actual: b"}}}},
				{DisplayName: "later", Skipped: true},
			}}}},
		{Path: "charts/broken", Error: errors.New("Chart.yaml missing")},
	}}
	rep := r.Result()
	if rep.Verdict != "error" || len(rep.Checks) != 4 {
		t.Fatalf("verdict %s, %d checks", rep.Verdict, len(rep.Checks))
	}
	f := rep.FirstFailure
	if f.Name != "deployment: sets the image" || f.Stage != "web @ Kubernetes 1.34.4" || !strings.Contains(strings.Join(f.Evidence, "\n"), "Actual: b") {
		t.Errorf("first failure %+v", f)
	}
	if rep.Checks[0].Status != "pass" || rep.Checks[2].Status != "skip" || rep.Checks[3].Status != "error" {
		t.Errorf("statuses %s %s %s", rep.Checks[0].Status, rep.Checks[2].Status, rep.Checks[3].Status)
	}
	for _, format := range []string{"md", "html", "MD"} {
		enc, err := EncoderFor(format)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := enc(&b, r); err != nil || !strings.Contains(b.String(), "sets the image") {
			t.Errorf("%s: %v", format, err)
		}
	}
}
