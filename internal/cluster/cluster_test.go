package cluster_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/shakedown-dev/shakedown/internal/cluster"
	"github.com/shakedown-dev/shakedown/internal/cluster/k3s"
	"github.com/shakedown-dev/shakedown/internal/cluster/kubeconfig"
	"github.com/shakedown-dev/shakedown/internal/cluster/local"
	"github.com/shakedown-dev/shakedown/internal/dockerd"
	"github.com/shakedown-dev/shakedown/internal/progress"
)

// Every provider satisfies the seam.
var (
	_ cluster.Cluster = (*local.Cluster)(nil)
	_ cluster.Cluster = (*kubeconfig.Cluster)(nil)
	_ cluster.Cluster = (*k3s.Cluster)(nil)
)

func TestOpenRejectsUnknownProvider(t *testing.T) {
	_, err := cluster.Open(context.Background(), cluster.Spec{Provider: "minikube"})
	if err == nil || !strings.Contains(err.Error(), "minikube") {
		t.Fatalf("want an error naming the provider, got %v", err)
	}
}

// TestKubeconfigProviderOwnsOneNamespace opens a local cluster through its kubeconfig
// file, as a user would open kind or EKS, and checks the run's namespace comes and goes.
func TestKubeconfigProviderOwnsOneNamespace(t *testing.T) {
	ctx := context.Background()
	lc, err := cluster.Open(ctx, cluster.Spec{Provider: cluster.ProviderLocal, Version: "1.34.4", Progress: progress.New(os.Stderr)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lc.Close(ctx) })

	kc, err := cluster.Open(ctx, cluster.Spec{Provider: cluster.ProviderKubeconfig, Kubeconfig: lc.KubeconfigPath()})
	if err != nil {
		t.Fatal(err)
	}
	if kc.Version() != "v1.34.4" {
		t.Errorf("version %q, want v1.34.4", kc.Version())
	}
	ns := kc.Namespace()
	if !strings.HasPrefix(ns, "shakedown-") {
		t.Errorf("namespace %q, want a shakedown- prefix", ns)
	}
	cs, err := kubernetes.NewForConfig(kc.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("run namespace missing: %v", err)
	}
	closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := kc.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace %s still there after Close: %v", ns, err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("Close must touch only its namespace: %v", err)
	}
}

// TestK3sWithoutDockerSaysSo runs in a child process pointed at an engine that does not
// exist: testcontainers resolves the engine once per process, so the parent (where
// TestK3s starts a real engine) cannot check both.
func TestK3sWithoutDockerSaysSo(t *testing.T) {
	if os.Getenv("SHAKEDOWN_K3S_NO_DOCKER") != "1" {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(self, "-test.run", "^TestK3sWithoutDockerSaysSo$", "-test.v")
		cmd.Env = append(os.Environ(), "SHAKEDOWN_K3S_NO_DOCKER=1",
			"DOCKER_HOST=unix://"+filepath.Join(t.TempDir(), "no-engine.sock"), "TESTCONTAINERS_RYUK_DISABLED=true")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestK3sWithoutDockerSaysSo") {
			t.Fatalf("child without an engine: %v\n%s", err, out)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cluster.Open(ctx, cluster.Spec{Provider: cluster.ProviderK3s, Version: "1.31.2"})
	if !errors.Is(err, k3s.ErrNoDocker) {
		t.Fatalf("want ErrNoDocker without an engine, got %v", err)
	}
	t.Logf("without Docker: %v", err)
}

// TestK3s runs k3s in the Docker engine (started when none answers) when its image can
// be had; on machines without a registry the image cannot be pulled, and it skips saying so.
func TestK3s(t *testing.T) {
	ctx := context.Background()
	engine, err := dockerd.Ensure(ctx, dockerd.Options{Host: os.Getenv("DOCKER_HOST")})
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/dockerd"); statErr != nil {
			t.Skipf("no Docker engine and dockerd is not installed (make deps installs Debian's docker.io): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Release() })
	c, err := cluster.Open(ctx, cluster.Spec{Provider: cluster.ProviderK3s, Version: "1.31.2"})
	if errors.Is(err, k3s.ErrImageUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	if !strings.HasPrefix(c.Version(), "v1.31.2") {
		t.Fatalf("k3s reports %q, want v1.31.2+k3s1", c.Version())
	}
}
