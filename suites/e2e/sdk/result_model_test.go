package sdk

import (
	"strings"
	"testing"
	"time"
)

func TestReportMapsEveryCheck(t *testing.T) {
	r := &Result{Target: "http://127.0.0.1:8010", SDKs: []SDKResult{
		{SDK: "go@1.5.2", Duration: time.Second, Checks: []Check{{Name: "events stored once", Status: Pass}, {Name: "flags", Status: NotRun, Detail: "no --postgres"}}},
		{SDK: "js@1.200.2", Duration: time.Second, Checks: []Check{{Name: "events stored once", Status: Fail, Detail: "3 missing"}, {Name: "browser", Status: Errored, Detail: "no chromium"}}},
	}}
	rep := r.Report()
	if rep.Verdict != "error" || len(rep.Checks) != 4 || len(rep.Stages) != 2 || rep.Duration != 2*time.Second {
		t.Fatalf("verdict %s, %d checks, %d stages, %s", rep.Verdict, len(rep.Checks), len(rep.Stages), rep.Duration)
	}
	want := []string{"pass", "skip", "fail", "error"}
	for i, c := range rep.Checks {
		if string(c.Status) != want[i] {
			t.Errorf("check %d %s: %s, want %s", i, c.Name, c.Status, want[i])
		}
	}
	if f := rep.FirstFailure; f.Stage != "posthog-js@1.200.2" || !strings.Contains(f.Summary, "3 missing") {
		t.Errorf("first failure %+v", f)
	}
}
