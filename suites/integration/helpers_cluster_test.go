package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shakedown-dev/shakedown/internal/cluster/local"
	"github.com/shakedown-dev/shakedown/suites/integration"
)

const referenceChart = "../../charts/reference-stack"

// startLocal starts a local control plane of version (building its binaries
// if they are not cached) and stops it when the test ends.
func startLocal(tb testing.TB, version string) integration.Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // a cold build takes 8-14 min
	defer cancel()
	cl, err := local.Start(ctx, local.Options{Version: version})
	if err != nil {
		tb.Fatalf("start local Kubernetes %s: %v", version, err)
	}
	tb.Cleanup(func() {
		if err := cl.Close(context.Background()); err != nil {
			tb.Errorf("stop local Kubernetes %s: %v", version, err)
		}
	})
	return cl
}

// localStarter is the runner's ClusterStarter for local control planes.
func localStarter(ctx context.Context, version string) (integration.Cluster, error) {
	return local.Start(ctx, local.Options{Version: version})
}

// newNamespace creates a namespace for one test on the cluster.
func newNamespace(tb testing.TB, cl integration.Cluster, name string) integration.Target {
	tb.Helper()
	t := integration.Target{Config: cl.RESTConfig(), Namespace: name}
	kube, err := t.Clientset()
	if err != nil {
		tb.Fatal(err)
	}
	_, err = kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("create namespace %s: %v", name, err)
	}
	return t
}

// editedChart copies the reference chart into a temp dir and applies
// replacements file by file ("Chart.yaml" -> old/new pairs); new files are
// written whole when the key starts with "+".
func editedChart(tb testing.TB, edits map[string][]string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "reference-stack")
	if err := integration.CopyChartDir(referenceChart, dir); err != nil {
		tb.Fatal(err)
	}
	for file, pairs := range edits {
		path := filepath.Join(dir, strings.TrimPrefix(file, "+"))
		if strings.HasPrefix(file, "+") {
			if err := os.WriteFile(path, []byte(pairs[0]), 0o644); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		s := string(data)
		for i := 0; i+1 < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				tb.Fatalf("%s has no %q to replace", file, pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// previousRelease packages a "previous release" of the reference chart:
// version 0.0.9 running image tag 0.0.9, so upgrade and rollback replace pods.
func previousRelease(tb testing.TB) string {
	tb.Helper()
	dir := editedChart(tb, map[string][]string{
		// The image tag defaults to appVersion, so the older release runs image 0.0.9.
		"Chart.yaml": {"version: 0.1.0", "version: 0.0.9", `appVersion: "0.1.0"`, `appVersion: "0.0.9"`},
	})
	ch, err := integration.LoadChart(context.Background(), dir, referenceChart, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tgz, err := integration.PackageChart(ch, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return tgz
}
