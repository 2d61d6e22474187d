package kubebin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// etcdMain is the whole etcd command: the 3.5 root module (which holds etcd's own
// main) is not on the proxy, but its server module's etcdmain is.
const etcdMain = `package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`

// Etcd returns the path of the etcd binary (Options.EtcdVersion, default
// DefaultEtcdVersion), building it from go.etcd.io/etcd/server/v3 when missing.
func (c *Cache) Etcd(ctx context.Context) (string, error) {
	v := c.opts.EtcdVersion
	what := "etcd " + v
	dir, err := c.entry(ctx, "etcd", v, what, []string{"etcd"}, func(ctx context.Context, out string, log io.Writer) error {
		return c.buildEtcd(ctx, v, out, log)
	})
	if err != nil {
		return "", fmt.Errorf("%w; retry with `shakedown cluster build`", err)
	}
	return filepath.Join(dir, "etcd"), nil
}

func (c *Cache) buildEtcd(ctx context.Context, v, out string, log io.Writer) error {
	mod, err := os.MkdirTemp("", "shakedown-etcdbuild-")
	if err != nil {
		return fmt.Errorf("create build module directory: %w", err)
	}
	defer os.RemoveAll(mod)
	c.step("building etcd " + v)
	dl, err := c.download(ctx, mod, "go.etcd.io/etcd/server/v3", "v"+v, log)
	if err != nil {
		c.fail()
		return err
	}
	data, err := os.ReadFile(dl.GoMod)
	if err != nil {
		c.fail()
		return fmt.Errorf("read go.mod of etcd server v%s: %w", v, err)
	}
	if err := writeMainModule(mod, "etcdbuild", goDirective(data), "go.etcd.io/etcd/server/v3", "v"+v, etcdMain); err != nil {
		c.fail()
		return err
	}
	err = c.goCmd(ctx, mod, "-mod=mod -trimpath -buildvcs=false", nil, log,
		"build", "-p", strconv.Itoa(c.opts.Parallel), "-ldflags", "-s -w", "-o", filepath.Join(out, "etcd"), ".")
	if err != nil {
		c.fail()
		return err
	}
	c.done()
	return nil
}

// writeMainModule writes a throwaway module in dir (shakedown.local/NAME, go directive
// goVersion, default 1.22) requiring module@version, with main.go holding main.
func writeMainModule(dir, name, goVersion, module, version, main string) error {
	if goVersion == "" {
		goVersion = "1.22"
	}
	gomod := fmt.Sprintf("module shakedown.local/%s\n\ngo %s\n\nrequire %s %s\n", name, goVersion, module, version)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return fmt.Errorf("write build go.mod: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
		return fmt.Errorf("write build main.go: %w", err)
	}
	return nil
}
