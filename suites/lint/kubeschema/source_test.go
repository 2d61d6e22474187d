package kubeschema

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSourceCachesAndReleases(t *testing.T) {
	src := NewSource(SourceOptions{})
	ctx := context.Background()
	a, err := src.Spec(ctx, newVersion)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Spec(ctx, "v"+newVersion)
	if err != nil || a != b {
		t.Fatalf("second Spec(%s) = %p, %v; want the cached %p", newVersion, b, err, a)
	}
	src.Release(newVersion)
	c, err := src.Spec(ctx, newVersion)
	if err != nil || c == a {
		t.Fatalf("Spec after Release = %p, %v; want a new spec", c, err)
	}
	if !c.OpenAPIV3() || !c.HasEnums() {
		t.Errorf("1.34: OpenAPIV3=%v HasEnums=%v, want both", c.OpenAPIV3(), c.HasEnums())
	}
}

func TestSourceRejectsBadVersions(t *testing.T) {
	src := NewSource(SourceOptions{})
	for _, v := range []string{"", "1.34", "latest", "1.34.4-rc.0"} {
		if _, err := src.Spec(context.Background(), v); err == nil || !strings.Contains(err.Error(), "MAJOR.MINOR.PATCH") {
			t.Errorf("Spec(%q) err = %v", v, err)
		}
	}
	_, err := NewSource(SourceOptions{Go: filepath.Join(t.TempDir(), "no-go")}).Spec(context.Background(), "1.99.0")
	if err == nil || !strings.Contains(err.Error(), "SourceOptions.Go") {
		t.Errorf("Spec with a missing Go command: err = %v", err)
	}
}

// A Dir copy is used before the module: here only the core and apps files.
func TestSourceDir(t *testing.T) {
	module := loadSpec(t, newVersion).files.v3Dir
	dir := t.TempDir()
	flat := filepath.Join(dir, newVersion)
	if err := os.MkdirAll(flat, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api__v1_openapi.json", "apis__apps__v1_openapi.json"} {
		data, err := os.ReadFile(filepath.Join(module, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(flat, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := NewSource(SourceOptions{Dir: dir, Go: filepath.Join(dir, "no-go")}) // the module must not be needed
	sp, err := src.Spec(context.Background(), newVersion)
	if err != nil {
		t.Fatal(err)
	}
	if sp.files.v3Dir != flat || sp.HasEnums() {
		t.Errorf("files = %+v, want the flat copy without enums", sp.files)
	}
	if problems := check(t, sp, validObjects["Deployment"]); len(problems) != 0 {
		t.Errorf("want no problems, got:\n%s", list(problems))
	}
	if _, ok, err := sp.Validate(object(t, validObjects["Ingress"])); ok || err != nil {
		t.Errorf("Ingress without its file: ok=%v err=%v, want not found", ok, err)
	}

	empty := filepath.Join(dir, "1.20.0")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Spec(context.Background(), "1.20.0"); !errors.Is(err, ErrNoSpec) {
		t.Errorf("Spec of an empty Dir copy: err = %v, want ErrNoSpec", err)
	}
}

// Kubernetes 1.22 ships only swagger.json (OpenAPI v2), and no enums.
func TestOpenAPIV2Version(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads k8s.io/kubernetes@v1.22.17 (13 MB) when not cached")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sp, err := NewSource(SourceOptions{}).Spec(ctx, "1.22.17")
	if err != nil {
		t.Skipf("k8s.io/kubernetes@v1.22.17 not available: %v", err)
	}
	if sp.OpenAPIV3() || sp.HasEnums() {
		t.Fatalf("1.22: OpenAPIV3=%v HasEnums=%v, want neither", sp.OpenAPIV3(), sp.HasEnums())
	}
	for _, name := range []string{"Deployment", "Service", "Secret", "PodDisruptionBudget", "NetworkPolicy", "CronJob", "Ingress"} {
		if problems := check(t, sp, validObjects[name]); len(problems) != 0 {
			t.Errorf("%s: want no problems, got:\n%s", name, list(problems))
		}
	}
	// autoscaling/v2 is served from 1.23, policy/v1beta1 until 1.24.
	if ok, _ := sp.Serves("autoscaling/v2", "HorizontalPodAutoscaler"); ok {
		t.Error("1.22 serves autoscaling/v2")
	}
	if got, err := sp.APIVersionsFor("autoscaling", "HorizontalPodAutoscaler"); err != nil || strings.Join(got, " ") != "autoscaling/v1 autoscaling/v2beta2 autoscaling/v2beta1" {
		t.Errorf("APIVersionsFor(autoscaling, HPA) = %v, %v", got, err)
	}
	mustFind(t, check(t, sp, strings.ReplaceAll(service, "%TYPE%", "ClusterIP")), "spec.ports[0].port", Required)
	deployment := strings.Replace(validObjects["Deployment"], "      nodeSelector: null\n", "      resources: {limits: {cpu: 2}}\n", 1)
	mustFind(t, check(t, sp, deployment), "spec.template.spec.resources", Unknown)
	mustFind(t, check(t, sp, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: \"%%%\"}\n"), "data[a]", Format)
}
