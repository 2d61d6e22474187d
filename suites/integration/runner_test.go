package integration_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/suites/integration"
)

// TestRunnerCloudOverlaysOnKubernetes1344 runs the matrix rows of one
// version: the cloud overlays of the reference chart through every step, from
// a packaged previous release to the working tree.
func TestRunnerCloudOverlaysOnKubernetes1344(t *testing.T) {
	runAllSteps(t, "aws", "azure", "digitalocean", "gcp")
}

// TestRunnerK3sOverlayOnKubernetes1344 is the k3s overlay alone: its
// StorageClass uses rancher.io/local-path, which the local provider must
// provision like k3s does (a local volume pinned to the node).
func TestRunnerK3sOverlayOnKubernetes1344(t *testing.T) {
	runAllSteps(t, "k3s")
}

// runAllSteps runs every step for the clouds on 1.34.4 and wants every row
// to pass, with a duration, in the text, JSON and JUnit reports.
func runAllSteps(t *testing.T, clouds ...string) {
	t.Helper()
	var log bytes.Buffer
	report, err := integration.Run(context.Background(), integration.Options{
		ChartDir:     referenceChart,
		From:         previousRelease(t),
		KubeVersions: []string{"1.34.4"},
		Clouds:       clouds,
		Start:        localStarter,
		StepTimeout:  time.Minute,
		Log:          &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + len(clouds)*len(integration.AllSteps()); len(report.Rows) != want {
		t.Errorf("%d rows, want %d (cluster + clouds × steps)", len(report.Rows), want)
	}
	for _, cloud := range clouds {
		for _, step := range integration.AllSteps() {
			row, ok := report.Row("1.34.4", cloud, step)
			if !ok {
				t.Errorf("no row for %s/%s", cloud, step)
				continue
			}
			if row.Status != integration.StatusPass || row.Duration <= 0 {
				t.Errorf("%s/%s: %s in %s: %s", cloud, step, row.Status, row.Duration, row.Message)
			}
		}
	}
	if report.Failed() {
		var text bytes.Buffer
		_ = integration.EncodeText(&text, report)
		t.Fatalf("report failed:\n%s\nlog:\n%s", text.String(), log.String())
	}
	var junit bytes.Buffer
	if err := integration.EncodeJUnit(&junit, report); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &parsed); err != nil || parsed.Tests != len(report.Rows) || parsed.Failures != 0 {
		t.Errorf("JUnit: %+v, err %v", parsed, err)
	}
	if last := "uninstall 1.34.4/" + clouds[len(clouds)-1] + ": pass"; !strings.Contains(log.String(), last) {
		t.Errorf("progress log lacks %q:\n%s", last, log.String())
	}
	var text bytes.Buffer
	_ = integration.EncodeText(&text, report)
	t.Logf("report:\n%s", text.String())
}
