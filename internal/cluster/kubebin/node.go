package kubebin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// DefaultCoreDNSVersion is the CoreDNS release built for the cluster DNS of real nodes.
const DefaultCoreDNSVersion = "1.14.7"

// NodeBinaries are the paths of what a real node runs beside the control plane.
type NodeBinaries struct {
	Version   string
	Kubelet   string
	KubeProxy string
	// CoreDNS serves the cluster's DNS names (Services, headless pods).
	CoreDNS string
}

// nodeCommands are the k8s.io/kubernetes main packages of a real node.
func nodeCommands() []string { return []string{"kubelet", "kube-proxy"} }

// Node returns the kubelet and kube-proxy of Kubernetes version, and CoreDNS. When the
// control plane's entry came from the official tarball, its kubelet and kube-proxy are
// used; otherwise they are built from source into their own entry (kube-node/<version>;
// cold: about 4 min on 2 cores, less with the control plane's build cache warm).
func (c *Cache) Node(ctx context.Context, version string) (NodeBinaries, error) {
	v, err := NormalizeVersion(version)
	if err != nil {
		return NodeBinaries{}, err
	}
	nb := NodeBinaries{Version: v}
	if dir := c.entryDir("kube", v); complete(dir, nodeCommands()) {
		nb.Kubelet, nb.KubeProxy = filepath.Join(dir, "kubelet"), filepath.Join(dir, "kube-proxy")
	} else {
		what := "kubelet, kube-proxy " + v
		dir, err := c.entry(ctx, "kube-node", v, what, nodeCommands(), func(ctx context.Context, out string, log io.Writer) error {
			return c.buildKubeCommands(ctx, v, out, log, nodeCommands(), "about 4 min")
		})
		if err != nil {
			return NodeBinaries{}, fmt.Errorf("%w; retry with `shakedown cluster build --kubernetes %s --nodes real`", err, v)
		}
		nb.Kubelet, nb.KubeProxy = filepath.Join(dir, "kubelet"), filepath.Join(dir, "kube-proxy")
	}
	if nb.CoreDNS, err = c.CoreDNS(ctx); err != nil {
		return NodeBinaries{}, err
	}
	return nb, nil
}

// coreDNSMain builds CoreDNS as a library with only the plugins a cluster's DNS needs,
// in the order of CoreDNS's own plugin.cfg (the order of dnsserver.Directives is the
// order of the plugin chain). This is CoreDNS's documented way to build a custom server.
const coreDNSMain = `package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "cache", "kubernetes", "forward"}
}

func main() { coremain.Run() }
`

// CoreDNS returns the path of a CoreDNS server (DefaultCoreDNSVersion) built with the
// bind, ready, health, errors, log, cache, kubernetes and forward plugins.
func (c *Cache) CoreDNS(ctx context.Context) (string, error) {
	v := DefaultCoreDNSVersion
	path, err := c.goTool(ctx, "coredns", v, "coredns", func(ctx context.Context, work, out string, log io.Writer) error {
		dl, err := c.download(ctx, work, "github.com/coredns/coredns", "v"+v, log)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(dl.GoMod)
		if err != nil {
			return fmt.Errorf("read go.mod of coredns v%s: %w", v, err)
		}
		if err := writeMainModule(work, "corednsbuild", goDirective(data), "github.com/coredns/coredns", "v"+v, coreDNSMain); err != nil {
			return err
		}
		return c.goCmd(ctx, work, "-mod=mod -trimpath -buildvcs=false", []string{"CGO_ENABLED=0"}, log,
			"build", "-p", strconv.Itoa(c.opts.Parallel), "-ldflags", "-s -w", "-o", filepath.Join(out, "coredns"), ".")
	})
	if err != nil {
		return "", fmt.Errorf("%w; retry with `shakedown cluster build --nodes real`", err)
	}
	return path, nil
}
