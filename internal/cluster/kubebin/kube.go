package kubebin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// kubeCommands are the k8s.io/kubernetes main packages a control plane needs, by the
// name of the binary they produce.
func kubeCommands() []string {
	return []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}
}

// Kube returns the control-plane binaries of Kubernetes version. When missing it
// downloads the official release binaries (verified against their published sha512)
// or, if that fails, builds them from source (cold: 8–14 min on 2 cores). Etcd and
// Kwok are left empty; see Ensure.
func (c *Cache) Kube(ctx context.Context, version string) (Binaries, error) {
	v, err := NormalizeVersion(version)
	if err != nil {
		return Binaries{}, err
	}
	what := "kube-apiserver, kube-controller-manager, kube-scheduler " + v
	_, err = c.entry(ctx, "kube", v, what, kubeCommands(), func(ctx context.Context, out string, log io.Writer) error {
		return c.buildKubeEntry(ctx, v, out, log)
	})
	if err != nil {
		return Binaries{}, fmt.Errorf("%w; retry with `shakedown cluster build --kubernetes %s`", err, v)
	}
	return c.kubePaths(v), nil
}

func (c *Cache) kubePaths(v string) Binaries {
	dir := c.entryDir("kube", v)
	return Binaries{
		Version:           v,
		APIServer:         filepath.Join(dir, "kube-apiserver"),
		ControllerManager: filepath.Join(dir, "kube-controller-manager"),
		Scheduler:         filepath.Join(dir, "kube-scheduler"),
	}
}

// buildKube builds the control plane's three commands of v from source into out.
func (c *Cache) buildKube(ctx context.Context, v, out string, log io.Writer) error {
	return c.buildKubeCommands(ctx, v, out, log, kubeCommands(), "8-14 min")
}

// buildKubeCommands writes a throwaway module requiring k8s.io/kubernetes with one
// replace per staging module and builds the named commands (k8s.io/kubernetes/cmd/NAME)
// into out. cold says how long a cold build takes, for the progress line.
func (c *Cache) buildKubeCommands(ctx context.Context, v, out string, log io.Writer, commands []string, cold string) error {
	mod, err := os.MkdirTemp("", "shakedown-kubebuild-"+v+"-")
	if err != nil {
		return fmt.Errorf("create build module directory: %w", err)
	}
	defer os.RemoveAll(mod)

	c.step("downloading k8s.io/kubernetes v" + v)
	dl, err := c.download(ctx, mod, "k8s.io/kubernetes", "v"+v, log)
	if err != nil {
		c.fail()
		return err
	}
	data, err := os.ReadFile(dl.GoMod)
	if err != nil {
		c.fail()
		return fmt.Errorf("read go.mod of k8s.io/kubernetes v%s: %w", v, err)
	}
	facts, err := parseKubeGoMod(data)
	if err != nil {
		c.fail()
		return fmt.Errorf("go.mod of k8s.io/kubernetes v%s (%s): %w", v, dl.GoMod, err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(kubeBuildGoMod(v, facts)), 0o644); err != nil {
		c.fail()
		return fmt.Errorf("write build go.mod: %w", err)
	}
	c.done()

	c.step(fmt.Sprintf("building %s %s (cold: %s on 2 cores; log in %s)", strings.Join(commands, ", "), v, cold, filepath.Join(c.opts.Dir, "logs")))
	args := []string{"build", "-p", strconv.Itoa(c.opts.Parallel), "-ldflags", kubeLdflags(v), "-o", out + string(os.PathSeparator)}
	for _, name := range commands {
		args = append(args, "k8s.io/kubernetes/cmd/"+name)
	}
	// -mod=mod lets go fill go.sum and the indirect requirements of the throwaway module.
	if err := c.goCmd(ctx, mod, "-mod=mod -trimpath -buildvcs=false", nil, log, args...); err != nil {
		c.fail()
		return err
	}
	c.done()
	return nil
}

// kubeLdflags stamps the version into the binaries: without it the server reports
// v0.0.0 and charts' .Capabilities.KubeVersion checks break.
func kubeLdflags(v string) string {
	parts := strings.SplitN(v, ".", 3)
	var flags []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X "+pkg+".gitVersion=v"+v,
			"-X "+pkg+".gitMajor="+parts[0],
			"-X "+pkg+".gitMinor="+parts[1],
			"-X "+pkg+".gitTreeState=clean",
		)
	}
	return "-s -w " + strings.Join(flags, " ")
}

func (c *Cache) step(msg string) {
	if c.opts.Progress != nil {
		c.opts.Progress.Step(msg)
	}
}

func (c *Cache) done() {
	if c.opts.Progress != nil {
		c.opts.Progress.Done()
	}
}

func (c *Cache) fail() {
	if c.opts.Progress != nil {
		c.opts.Progress.Fail()
	}
}
