package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

const referenceChart = "../../charts/reference-stack"

func TestChartValuesReadsTheChartsOwnOverlayThenFiles(t *testing.T) {
	ch, err := loader.Load(referenceChart)
	if err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(t.TempDir(), "extra.yaml")
	if err := os.WriteFile(extra, []byte("storageClass:\n  parameters:\n    iops: \"3000\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vals, err := ChartValues(ch, "aws", []string{extra}, map[string]any{"kafka": map[string]any{"replicaCount": 1}})
	if err != nil {
		t.Fatal(err)
	}
	params := vals["storageClass"].(map[string]any)["parameters"].(map[string]any)
	if params["encrypted"] != "true" || params["iops"] != "3000" {
		t.Errorf("storageClass.parameters = %v, want the aws overlay's encrypted plus the file's iops", params)
	}
	if vals["kafka"].(map[string]any)["replicaCount"] != 1 {
		t.Errorf("extra values not applied: %v", vals["kafka"])
	}
	if _, err := ChartValues(ch, "mars", nil, nil); err == nil || !strings.Contains(err.Error(), "values/mars.yaml") {
		t.Errorf("missing overlay error = %v, want it to name values/mars.yaml", err)
	}
}

func TestLoadChartAtGitRef(t *testing.T) {
	ch, err := LoadChart(context.Background(), "HEAD", referenceChart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ch.Name() != "reference-stack" || len(ch.Templates) == 0 {
		t.Fatalf("chart at HEAD = %s with %d templates", ch.Name(), len(ch.Templates))
	}
	if _, ok := chartFile(ch, OverlayFile("aws")); !ok {
		t.Error("chart at HEAD lacks its aws overlay")
	}
	if _, err := LoadChart(context.Background(), "no-such-ref-xyz", referenceChart, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no-such-ref-xyz") {
		t.Errorf("bad ref error = %v, want it to name the ref", err)
	}
}

func TestPackageChartRoundTrips(t *testing.T) {
	ch, err := loader.Load(referenceChart)
	if err != nil {
		t.Fatal(err)
	}
	ch.Metadata.Version = "0.0.9"
	path, err := PackageChart(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	back, err := LoadChart(context.Background(), path, referenceChart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if back.Metadata.Version != "0.0.9" || !strings.HasSuffix(path, "reference-stack-0.0.9.tgz") {
		t.Fatalf("packaged %s loads as version %s", path, back.Metadata.Version)
	}
}

func TestParseManifestSkipsEmptyDocuments(t *testing.T) {
	objs, err := ParseManifest("---\n# comment only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\n---\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || describe(objs[0]) != "ConfigMap ns/a (v1)" {
		t.Fatalf("objects = %d, first %s", len(objs), describe(objs[0]))
	}
}
