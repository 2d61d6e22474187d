package kubebin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestParseKubeGoModKeepsOnlyStagingReplacements(t *testing.T) {
	data, err := os.ReadFile("testdata/kubernetes-go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseKubeGoMod(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.GoVersion != "1.24.0" {
		t.Errorf("go directive %q, want 1.24.0", f.GoVersion)
	}
	if len(f.Godebug) != 1 || f.Godebug[0] != "default=go1.24" {
		t.Errorf("godebug %q, want [default=go1.24]", f.Godebug)
	}
	want := []string{"k8s.io/api", "k8s.io/apiextensions-apiserver", "k8s.io/apimachinery", "k8s.io/apiserver"}
	if fmt.Sprint(f.Staging) != fmt.Sprint(want) {
		t.Errorf("staging %q, want %q (k8s.io/utils is a pin, not staging)", f.Staging, want)
	}
	got := kubeBuildGoMod("1.34.4", f)
	for _, line := range []string{
		"go 1.24.0\n", "godebug default=go1.24\n", "require k8s.io/kubernetes v1.34.4\n",
		"\tk8s.io/api => k8s.io/api v0.34.4\n", "\tk8s.io/apiserver => k8s.io/apiserver v0.34.4\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("build go.mod lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "k8s.io/utils") {
		t.Errorf("build go.mod must not repeat non-staging replacements:\n%s", got)
	}
}

func TestParseKubeGoModRejectsOtherModules(t *testing.T) {
	if _, err := parseKubeGoMod([]byte("module example.com/x\n\ngo 1.22\n")); err == nil {
		t.Fatal("a go.mod without staging replacements must be rejected")
	}
}

func TestNormalizeVersion(t *testing.T) {
	for in, want := range map[string]string{"1.34.4": "1.34.4", "v1.28.15": "1.28.15", " 1.30.14 ": "1.30.14"} {
		got, err := NormalizeVersion(in)
		if err != nil || got != want {
			t.Errorf("NormalizeVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.34", "latest", "1.34.4-rc.1", "../1.2.3"} {
		if _, err := NormalizeVersion(bad); err == nil {
			t.Errorf("NormalizeVersion(%q) accepted", bad)
		}
	}
}

func TestKubeLdflagsStampVersion(t *testing.T) {
	got := kubeLdflags("1.28.15")
	for _, want := range []string{
		"-X k8s.io/component-base/version.gitVersion=v1.28.15",
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=28",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ldflags %q lack %q", got, want)
		}
	}
}

func writeExe(dir, name string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755)
}

func TestFailedBuildLeavesNoEntry(t *testing.T) {
	c, _ := New(Options{Dir: t.TempDir()})
	_, err := c.entry(context.Background(), "kube", "9.9.9", "test binaries", []string{"a", "b"},
		func(_ context.Context, out string, log io.Writer) error {
			fmt.Fprintln(log, "compiling ...")
			if err := writeExe(out, "a"); err != nil {
				return err
			}
			return errors.New("killed half-way")
		})
	if err == nil || !strings.Contains(err.Error(), "killed half-way") || !strings.Contains(err.Error(), "compiling ...") {
		t.Fatalf("want the build error with the log tail, got %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(c.Dir(), "kube"))
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("failed build left directory %s", e.Name())
		}
	}
}

func TestIncompleteBuildIsNotCached(t *testing.T) {
	c, _ := New(Options{Dir: t.TempDir()})
	_, err := c.entry(context.Background(), "kube", "9.9.9", "test binaries", []string{"a", "b"},
		func(_ context.Context, out string, _ io.Writer) error { return writeExe(out, "a") })
	if err == nil {
		t.Fatal("a build missing file b must fail")
	}
	if _, err := os.Stat(c.entryDir("kube", "9.9.9")); !os.IsNotExist(err) {
		t.Fatalf("incomplete build was cached: %v", err)
	}
}

func TestConcurrentCallersBuildOnce(t *testing.T) {
	dir := t.TempDir()
	var builds atomic.Int32
	build := func(_ context.Context, out string, _ io.Writer) error {
		builds.Add(1)
		return writeExe(out, "bin")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := New(Options{Dir: dir}) // separate Cache values, as separate processes would have
			got, err := c.entry(context.Background(), "etcd", "3.5.35", "etcd", []string{"bin"}, build)
			if err == nil && got != filepath.Join(dir, "etcd", "3.5.35") {
				err = fmt.Errorf("entry dir %s", got)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Fatalf("built %d times, want 1", n)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "etcd", ".tmp-*"))
	if len(matches) != 0 {
		t.Fatalf("temporary build directories left: %v", matches)
	}
}

func TestStaleBuildDirectoriesAreRemoved(t *testing.T) {
	c, _ := New(Options{Dir: t.TempDir()})
	stale := filepath.Join(c.Dir(), "kwok", ".tmp-0.7.0-12345")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c.entry(context.Background(), "kwok", "0.7.0", "kwok", []string{"kwok"},
		func(_ context.Context, out string, _ io.Writer) error { return writeExe(out, "kwok") }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale directory of a killed build survived: %v", err)
	}
}

// TestNodeUsesTheReleaseBinariesWhenTheControlPlaneCameFromTheTarball: the official
// server tarball brings kubelet and kube-proxy, so a real node needs no source build.
func TestNodeUsesTheReleaseBinariesWhenTheControlPlaneCameFromTheTarball(t *testing.T) {
	dir := t.TempDir()
	c, err := New(Options{Dir: dir, Go: filepath.Join(dir, "no-go-here"), ReleaseURL: ReleaseOff})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"kube/1.34.4/kubelet", "kube/1.34.4/kube-proxy", "coredns/" + DefaultCoreDNSVersion + "/coredns"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nb, err := c.Node(context.Background(), "v1.34.4")
	if err != nil {
		t.Fatalf("Node built something (there is no go command here): %v", err)
	}
	if nb.Kubelet != filepath.Join(dir, "kube/1.34.4/kubelet") || nb.KubeProxy != filepath.Join(dir, "kube/1.34.4/kube-proxy") ||
		nb.CoreDNS != filepath.Join(dir, "coredns", DefaultCoreDNSVersion, "coredns") || nb.Version != "1.34.4" {
		t.Errorf("Node = %+v", nb)
	}
	// Without them it builds (and here says how to retry when it cannot).
	if _, err := c.Node(context.Background(), "1.28.15"); err == nil || !strings.Contains(err.Error(), "--nodes real") {
		t.Errorf("Node 1.28.15 with no go command: %v, want a build error naming `cluster build --nodes real`", err)
	}
}
