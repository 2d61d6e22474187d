package integration

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/internal/junit"
)

func sampleReport() Report {
	return Report{Chart: "charts/x", Duration: 3 * time.Second, Rows: []Row{
		{KubeVersion: "1.34.4", Step: StepCluster, Status: StatusPass, Duration: time.Second},
		{KubeVersion: "1.34.4", Cloud: "aws", Step: StepInstall, Status: StatusPass, Duration: 2 * time.Second},
		{KubeVersion: "1.34.4", Cloud: "aws", Step: StepAssert, Status: StatusFail, Duration: time.Second, Message: "PVCsBound in namespace n: 1 problem(s)\n  - PersistentVolumeClaim n/data is Pending"},
		{KubeVersion: "1.34.4", Cloud: "aws", Step: StepUpgrade, Status: StatusSkip, Message: "skipped after assert failed"},
	}}
}

func TestEncodeTextNamesEveryRowAndFailure(t *testing.T) {
	var b bytes.Buffer
	if err := EncodeText(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"KUBERNETES", "aws", "install", "PASS", "FAIL", "SKIP", "PersistentVolumeClaim n/data is Pending", "2 passed, 1 failed, 1 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

func TestEncodeJSONRoundTrips(t *testing.T) {
	var b bytes.Buffer
	if err := EncodeJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 4 || got.Rows[2].Status != StatusFail || got.Rows[1].Duration != 2*time.Second || !got.Failed() {
		t.Fatalf("JSON round trip lost data: %+v", got)
	}
}

func TestEncodeJUnitCountsAndTimes(t *testing.T) {
	var b bytes.Buffer
	if err := EncodeJUnit(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var got junit.Suites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, b.String())
	}
	if got.Tests != 4 || got.Failures != 1 || len(got.Suites) != 1 || got.Suites[0].Skipped != 1 {
		t.Fatalf("counts: tests %d failures %d suites %d", got.Tests, got.Failures, len(got.Suites))
	}
	if !strings.Contains(b.String(), `name="aws/install" classname="integration.k8s_1_34_4.aws" time="2.000"`) {
		t.Errorf("install case lacks its name or time:\n%s", b.String())
	}
	c := got.Suites[0].Cases[1]
	if c.Name != "aws/install" || c.Time != junit.Seconds(2*time.Second) {
		t.Errorf("case = %+v, want aws/install with time 2.000", c)
	}
	if f := got.Suites[0].Cases[2].Failure; f == nil || !strings.Contains(f.Text, "data is Pending") {
		t.Errorf("failure = %+v, want the full message", f)
	}
}

func TestEncoderForRejectsUnknownFormat(t *testing.T) {
	if _, err := EncoderFor("yaml"); err == nil || !strings.Contains(err.Error(), "text, json, junit") {
		t.Fatalf("EncoderFor(yaml) error = %v, want the list of formats", err)
	}
}

func TestSortRowsOrdersVersionsNumericallyAndStepsInFlowOrder(t *testing.T) {
	rows := []Row{
		{KubeVersion: "1.34.4", Cloud: "aws", Step: StepUninstall},
		{KubeVersion: "1.34.4", Cloud: "aws", Step: StepInstall},
		{KubeVersion: "1.34.4", Step: StepCluster},
		{KubeVersion: "1.28.15", Cloud: "aws", Step: StepInstall},
	}
	sortRows(rows)
	got := []string{}
	for _, r := range rows {
		got = append(got, r.KubeVersion+"/"+string(r.Step))
	}
	want := "1.28.15/install 1.34.4/cluster 1.34.4/install 1.34.4/uninstall"
	if strings.Join(got, " ") != want {
		t.Fatalf("order = %v, want %s", got, want)
	}
}

func TestResultModelHasAStagePerCellAndACheckPerStep(t *testing.T) {
	rep := sampleReport().Result()
	if rep.Verdict != "fail" || len(rep.Checks) != 4 || len(rep.Stages) != 2 {
		t.Fatalf("verdict %s, %d checks in %d stages", rep.Verdict, len(rep.Checks), len(rep.Stages))
	}
	f := rep.FirstFailure
	if f.Stage != "Kubernetes 1.34.4 / aws" || f.Name != "assert" || !strings.Contains(strings.Join(f.Evidence, "\n"), "n/data is Pending") {
		t.Errorf("first failure %+v", f)
	}
	for _, format := range []string{"md", "html"} {
		enc, err := EncoderFor(format)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := enc(&b, sampleReport()); err != nil || !strings.Contains(b.String(), "PVCsBound") {
			t.Errorf("%s: %v\n%.300s", format, err, b.String())
		}
	}
}
