package lint

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/shakedown-dev/shakedown/internal/junit"
)

func brokenReport(t *testing.T) Report {
	t.Helper()
	return lintChart(t, Options{ChartDir: "testdata/broken", KubeVersions: brokenVersions})
}

func TestTextReportHasOneLinePerFindingWithRuleSeverityObjectAndFix(t *testing.T) {
	r := brokenReport(t)
	var buf bytes.Buffer
	if err := EncodeText(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`ERROR   SD006 Deployment/web (templates/web.yaml) [all]: container "web": image "nginx:latest" uses the mutable tag latest; fix: use an explicit version tag`,
		`ERROR   SD110 HorizontalPodAutoscaler/web (templates/hpa.yaml) [k8s 1.34.4]: autoscaling/v2beta2 HorizontalPodAutoscaler was removed in Kubernetes 1.26; use autoscaling/v2; fix:`,
		`ERROR   SD009 PersistentVolumeClaim/data (templates/data.yaml) [aws]:`,
		`WAIVED  SD004 DaemonSet/agent (templates/agent.yaml) [all]: container "agent" does not set readOnlyRootFilesystem: true (waived: the agent writes to its root filesystem)`,
		"waivers:\n  SD004 DaemonSet/agent (templates/agent.yaml) used 4 times: the agent writes to its root filesystem\n",
		"shakedown lint FAIL: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q\n%s", want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines < len(r.Findings)+1 {
		t.Errorf("%d lines for %d findings", lines, len(r.Findings))
	}
}

func TestJSONReportRoundTrips(t *testing.T) {
	r := brokenReport(t)
	var buf bytes.Buffer
	if err := EncodeJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Failed   bool      `json:"failed"`
		Counts   Counts    `json:"counts"`
		Findings []Finding `json:"findings"`
		Waivers  []Waiver  `json:"waivers"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("JSON report does not decode: %v", err)
	}
	if !got.Failed || got.Counts != r.Count() || len(got.Findings) != len(r.Findings) || len(got.Waivers) != len(r.Waivers) {
		t.Errorf("JSON report = failed %v counts %+v findings %d waivers %d; want true %+v %d %d",
			got.Failed, got.Counts, len(got.Findings), len(got.Waivers), r.Count(), len(r.Findings), len(r.Waivers))
	}
	if got.Findings[0].Rule == "" || len(got.Findings[0].Cells) == 0 {
		t.Errorf("first finding lost its rule or cells: %+v", got.Findings[0])
	}
}

func TestJUnitReportHasASuitePerCellAndFailsPerRule(t *testing.T) {
	r := brokenReport(t)
	var buf bytes.Buffer
	if err := EncodeJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var got junit.Suites
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("JUnit report does not parse: %v", err)
	}
	if len(got.Suites) != len(r.Cells()) {
		t.Fatalf("%d suites, want one per cell (%d)", len(got.Suites), len(r.Cells()))
	}
	failed := map[string]map[string]bool{}
	cases := map[string]junit.Case{}
	for _, s := range got.Suites {
		failed[s.Name] = map[string]bool{}
		for _, c := range s.Cases {
			cases[s.Name+" "+c.Name[:5]] = c
			if c.Failure != nil {
				failed[s.Name][c.Failure.Type] = true
			}
		}
	}
	if !failed["aws@1.34.4"][RuleAPIRemoved] || failed["aws@1.22.17"][RuleAPIRemoved] {
		t.Errorf("SD110 should fail on aws@1.34.4 only: %v", failed)
	}
	if !failed["aws@1.22.17"][RuleEncryptedStorage] || failed["k3s@1.22.17"][RuleEncryptedStorage] {
		t.Errorf("SD009 should fail on aws only: %v", failed)
	}
	sd004 := cases["aws@1.34.4 SD004"]
	if sd004.Failure == nil || strings.Contains(sd004.Failure.Text, "agent") || !strings.Contains(sd004.SystemOut, "waived SD004 DaemonSet/agent") {
		t.Errorf("SD004 should fail for the web Deployment only and list the agent as waived: %+v", sd004)
	}
	if got.Failures == 0 || got.Tests != len(r.Cells())*len(r.Rules) {
		t.Errorf("totals tests=%d failures=%d", got.Tests, got.Failures)
	}
}

func TestEncoderForRejectsUnknownFormats(t *testing.T) {
	for _, f := range Formats() {
		if _, err := EncoderFor(f); err != nil {
			t.Errorf("EncoderFor(%q): %v", f, err)
		}
	}
	if _, err := EncoderFor("yaml"); err == nil || !strings.Contains(err.Error(), "text, json, junit") {
		t.Errorf("EncoderFor(yaml) = %v, want an error naming the formats", err)
	}
}

func TestResultModelHasACheckPerRuleAndFailsOnErrors(t *testing.T) {
	r := brokenReport(t)
	rep := r.Result()
	if rep.Passed() || rep.FirstFailure == nil || rep.FirstFailure.Stage != "lint" || len(rep.FirstFailure.Evidence) == 0 {
		t.Fatalf("verdict %s, first failure %+v", rep.Verdict, rep.FirstFailure)
	}
	failing := map[string]bool{}
	for _, f := range r.Findings {
		if f.Failing() {
			failing[f.Rule] = true
		}
	}
	seen := 0
	for _, c := range rep.Checks {
		id, _, _ := strings.Cut(c.Name, " ")
		if (c.Status == "fail") != failing[id] {
			t.Errorf("rule %s: %s, failing findings %v", id, c.Status, failing[id])
		}
		seen++
	}
	if seen < len(r.Rules) {
		t.Errorf("%d checks for %d rules", seen, len(r.Rules))
	}
	for _, format := range []string{"md", "html"} {
		enc, err := EncoderFor(format)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := enc(&b, r); err != nil || !strings.Contains(b.String(), "FAIL") || !strings.Contains(b.String(), rep.FirstFailure.Name) {
			t.Errorf("%s: %v\n%.400s", format, err, b.String())
		}
	}
}
