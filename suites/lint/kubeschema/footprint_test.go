package kubeschema

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func rss() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") || strings.HasPrefix(line, "VmRSS:") {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return "?"
}

// TestFootprint measures loading a spec and validating 1,000 Deployments,
// and bounds the memory a spec keeps.
func TestFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	base := heapInuse()
	start := time.Now()
	sp := loadSpec(t, newVersion)
	found := time.Since(start)

	start = time.Now()
	check(t, sp, validObjects["Deployment"])
	first := time.Since(start)
	afterApps := heapInuse()

	objs := make([]map[string]any, 1000)
	for i := range objs {
		objs[i] = object(t, strings.ReplaceAll(validObjects["Deployment"], "web", fmt.Sprintf("web-%d", i)))
	}
	start = time.Now()
	for _, obj := range objs {
		if problems, ok, err := sp.Validate(obj); err != nil || !ok || len(problems) != 0 {
			t.Fatalf("Validate: %v %v %v", problems, ok, err)
		}
	}
	thousand := time.Since(start)
	objs = nil

	start = time.Now()
	for _, name := range []string{"Service", "Ingress", "HorizontalPodAutoscaler", "CronJob", "PodDisruptionBudget"} {
		check(t, sp, validObjects[name])
	}
	check(t, sp, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: []\n")
	check(t, sp, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: r}\n")
	more := time.Since(start)
	afterChart := heapInuse()
	defs := len(sp.cur.defs)

	t.Logf("find spec (go mod download, cached): %v", found)
	t.Logf("first Deployment (parse apps/v1 + enums): %v, spec heap %.1f MB", first, mb(afterApps-base))
	t.Logf("1,000 Deployments: %v (%.0f µs each)", thousand, float64(thousand.Microseconds())/1000)
	t.Logf("7 more group-versions (v1, networking, autoscaling/v2, batch, policy, rbac): %v; spec heap %.1f MB, %d definitions", more, mb(afterChart-base), defs)
	t.Logf("process %s", rss())
	if afterChart-base > 40<<20 {
		t.Errorf("a spec with 7 group-versions keeps %.1f MB, want < 40 MB", mb(afterChart-base))
	}
	runtime.KeepAlive(sp)
	sp = nil
	t.Logf("after dropping the spec: heap %.1f MB above the start", mb(heapInuse()-min(heapInuse(), base)))
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

func BenchmarkValidateDeployment(b *testing.B) {
	sp := loadSpec(b, newVersion)
	obj := object(b, validObjects["Deployment"])
	check(b, sp, validObjects["Deployment"])
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := sp.Validate(obj); err != nil {
			b.Fatal(err)
		}
	}
}
