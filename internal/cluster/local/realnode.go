package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/distribution/reference"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
	"github.com/shakedown-dev/shakedown/internal/flock"
	"github.com/shakedown-dev/shakedown/internal/procs"
)

// ImageImporter imports one image archive (a `docker save` stream) into the real
// node's container runtime.
type ImageImporter func(ctx context.Context, archive io.Reader) error

// RealNodeOptions configures the real node of a cluster.
type RealNodeOptions struct {
	// Binaries are the kubelet, kube-proxy and CoreDNS (from kubebin.Cache.Node).
	Binaries kubebin.NodeBinaries
	// SandboxImage is every pod's sandbox image (required; it must be imported by
	// LoadImages, since nothing can be pulled), e.g. "shakedown/pause:local".
	SandboxImage string
	// LoadImages imports the images pods will run (with imagePullPolicy Never or
	// IfNotPresent), before the node registers. It is required.
	LoadImages func(ctx context.Context, importImage ImageImporter) error
	// Containerd, Ctr and CNIBin override the Debian paths (default: containerd and ctr
	// from PATH, /usr/lib/cni).
	Containerd, Ctr, CNIBin string
}

// realNodeLock is held while a real node runs: the kubelet writes to fixed host paths
// (/var/lib/kubelet/device-plugins, /var/log/pods), kube-proxy owns the host's KUBE-*
// iptables chains and the bridge has one name, so one real node runs at a time.
const realNodeLock = "/run/shakedown/realnode.lock"

// realNodeState records, while a real node runs, its directory, its containerd socket
// and what the host was like before (hostState), for cleanStaleNode.
const realNodeState = "/run/shakedown/realnode.json"

type savedNode struct {
	Dir    string    `json:"dir"`
	Socket string    `json:"socket"`
	Host   hostState `json:"host"`
}

// saveState writes realNodeState.
func (n *realNode) saveState() error {
	data, err := json.Marshal(savedNode{Dir: n.dir, Socket: filepath.Join(n.dir, "containerd", "containerd.sock"), Host: n.host})
	if err != nil {
		return err
	}
	if err := os.WriteFile(realNodeState+".tmp", data, 0o600); err != nil {
		return fmt.Errorf("real node: record state: %w", err)
	}
	return os.Rename(realNodeState+".tmp", realNodeState)
}

// cleanStaleNode undoes what a real node whose process was killed left on the host
// (its shims and containers, chains, bridge, route, mounts, paths, cgroups, kernel
// settings, directory), as its saved state says. Callers hold the lock.
func cleanStaleNode(logf func(string, ...any)) error {
	data, err := os.ReadFile(realNodeState)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("real node: read %s: %w", realNodeState, err)
	}
	var old savedNode
	if err := json.Unmarshal(data, &old); err != nil || old.Dir == "" {
		logf("real node: ignoring unreadable %s: %v", realNodeState, err)
		return os.Remove(realNodeState)
	}
	logf("real node: cleaning up after a real node whose process ended without stopping it (%s)", old.Dir)
	killShims(old.Socket)
	errs := old.Host.restore(old.Dir)
	// The cluster's directory, named by Start; anything else is left alone.
	if clusterDir := filepath.Dir(old.Dir); filepath.Base(old.Dir) == "node" && filepath.IsAbs(clusterDir) &&
		strings.HasPrefix(filepath.Base(clusterDir), "shakedown-kube-") {
		if err := os.RemoveAll(clusterDir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("real node: cleaning up after a killed real node (%s): %w", old.Dir, errors.Join(errs...))
	}
	return os.Remove(realNodeState)
}

// realNode is the node's processes and what they changed on the host.
type realNode struct {
	dir        string
	containerd *procs.Process
	kubelet    *procs.Process
	kubeProxy  *procs.Process
	coreDNS    *procs.Process
	socket     string
	opts       RealNodeOptions
	host       hostState
	unlock     func()
	// log receives teardown notes (what could not be cleaned).
	logf func(format string, args ...any)
}

// processes returns the node's running children, for liveness checks.
func (n *realNode) processes() []*procs.Process {
	var ps []*procs.Process
	for _, p := range []*procs.Process{n.containerd, n.coreDNS, n.kubeProxy, n.kubelet} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// withNodeDefaults fills the Debian paths of o.
func withNodeDefaults(o RealNodeOptions) RealNodeOptions {
	if o.Containerd == "" {
		o.Containerd = "containerd"
	}
	if o.Ctr == "" {
		o.Ctr = "ctr"
	}
	if o.CNIBin == "" {
		o.CNIBin = "/usr/lib/cni"
	}
	return o
}

// CheckRealNodeHost tells what this machine lacks to run a real node — root,
// containerd, runc, iptables, ip, the CNI plugins — naming the fix, and refuses a host
// that already runs a kubelet or kube-proxy, whose cgroups, paths and iptables chains a
// real node would take over. The options' binaries and images are checked by Start.
func CheckRealNodeHost(o RealNodeOptions) error {
	o = withNodeDefaults(o)
	if os.Geteuid() != 0 {
		return errors.New("a real node needs root (the kubelet, containerd and the CNI plugins manage cgroups, mounts and network namespaces); run as root or use kwok nodes")
	}
	var missing []string
	for _, t := range []struct{ bin, pkg string }{
		{o.Containerd, "containerd"}, {o.Ctr, "containerd"}, {"runc", "runc"}, {"iptables", "iptables"}, {"ip", "iproute2"},
	} {
		if _, err := exec.LookPath(t.bin); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.bin, t.pkg))
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "portmap", "firewall", "loopback"} {
		if !isExecutableFile(filepath.Join(o.CNIBin, plugin)) {
			missing = append(missing, fmt.Sprintf("CNI plugin %s in %s (Debian package containernetworking-plugins)", plugin, o.CNIBin))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("a real node needs %s: run `make deps` (or apt-get install containerd runc iptables iproute2 containernetworking-plugins)", strings.Join(missing, ", "))
	}
	return nil
}

// checkForeignNode refuses to start beside a kubelet or kube-proxy that shakedown did
// not start (called under the lock, after a dead run's leftovers are removed).
func checkForeignNode() error {
	if _, err := os.Stat("/var/lib/kubelet/device-plugins/kubelet.sock"); err == nil {
		return errors.New("a real node: this machine already runs a kubelet (/var/lib/kubelet/device-plugins/kubelet.sock exists); stop it, or use kwok nodes")
	}
	for chain := range iptablesChains() {
		if strings.HasSuffix(chain, " KUBE-SERVICES") || strings.HasSuffix(chain, " KUBE-PROXY-CANARY") {
			return fmt.Errorf("a real node: this machine already runs kube-proxy (iptables chain %s exists); stop it, or use kwok nodes", chain)
		}
	}
	for _, root := range cgroupRoots() {
		if _, err := os.Stat(filepath.Join(root, "kubepods")); err == nil {
			return fmt.Errorf("a real node: cgroup %s exists: another kubelet's pods run here; stop it, or use kwok nodes", filepath.Join(root, "kubepods"))
		}
	}
	return nil
}

// checkNodeOptions checks what Start needs beyond the host: binaries and images.
func checkNodeOptions(o RealNodeOptions) error {
	if o.SandboxImage == "" || o.LoadImages == nil {
		return errors.New("a real node needs a sandbox image and the images its pods run (RealNodeOptions.SandboxImage, LoadImages): no image can be pulled here")
	}
	var missing []string
	for name, p := range map[string]string{"kubelet": o.Binaries.Kubelet, "kube-proxy": o.Binaries.KubeProxy, "coredns": o.Binaries.CoreDNS} {
		if !isExecutableFile(p) {
			missing = append(missing, fmt.Sprintf("%s at %q", name, p))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("a real node needs %s: run `shakedown cluster build --nodes real`", strings.Join(missing, ", "))
	}
	return nil
}

func isExecutableFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// startRealNode starts the real node of cluster c: its containerd, the images, cluster
// DNS, kube-proxy and the kubelet, and waits for the node to be Ready.
func (c *Cluster) startRealNode(ctx context.Context, cs kubernetes.Interface, p *pki, opts RealNodeOptions, timeout time.Duration, logf func(string, ...any)) (err error) {
	opts = withNodeDefaults(opts)
	if err := CheckRealNodeHost(opts); err != nil {
		return err
	}
	if err := checkNodeOptions(opts); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(realNodeLock), 0o755); err != nil {
		return fmt.Errorf("real node: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	unlock, err := flock.Lock(lctx, realNodeLock)
	cancel()
	if err != nil {
		return fmt.Errorf("real node: waiting for %s, held by another real node (one runs at a time on a machine): %w", realNodeLock, err)
	}
	if err := cleanStaleNode(logf); err != nil {
		unlock()
		return err
	}
	if err := checkForeignNode(); err != nil {
		unlock()
		return err
	}
	n := &realNode{dir: filepath.Join(c.dir, "node"), opts: opts, unlock: unlock, logf: logf}
	c.node = n
	// From here on, Stop undoes whatever was done, even on a failed start; and the
	// saved state lets the next real node undo it if this process is killed.
	n.host = snapshotHost()
	if err := n.saveState(); err != nil {
		return err
	}
	if err := n.prepareHost(); err != nil {
		return err
	}
	minor, _ := strconv.Atoi(strings.Split(c.version, ".")[1])
	certs, err := p.issueNodeCerts(realNodeName)
	if err != nil {
		return err
	}
	if err := n.startContainerd(ctx, timeout); err != nil {
		return err
	}
	if err := opts.LoadImages(ctx, n.importImage); err != nil {
		return fmt.Errorf("real node: load images: %w", err)
	}
	if err := grantNodeAccess(ctx, cs); err != nil {
		return err
	}
	if err := n.startCoreDNS(ctx, c.server, p.ca.Cert, certs.coreDNS, timeout); err != nil {
		return err
	}
	// The kubelet first: kube-proxy waits for its Node object.
	if err := n.startKubelet(ctx, minor, c.server, p, certs, timeout); err != nil {
		return err
	}
	return n.startKubeProxy(ctx, c.server, p.ca.Cert, certs.kubeProxy, timeout)
}

// prepareHost makes the node's directories and the pods' bridge, and turns on what
// Services need from the kernel: forwarding and iptables on bridged traffic (a pod
// reaching a Service whose endpoint is on the same bridge).
func (n *realNode) prepareHost() error {
	for _, d := range []string{"containerd/root", "containerd/state", "cni/net.d", "cni/ipam", "kubelet", "volumes", "kube-proxy", "coredns"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o700); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
	}
	// Volumes are hostPath directories pods of any uid write to, as local-path makes them.
	if err := os.Chmod(filepath.Join(n.dir, "volumes"), 0o755); err != nil {
		return fmt.Errorf("real node: %w", err)
	}
	if err := checkPodCIDRFree(); err != nil {
		return err
	}
	if _, err := net.InterfaceByName(realBridge); err == nil {
		return fmt.Errorf("real node: interface %s exists but no real node runs (the lock is ours): remove it with `ip link del %s`", realBridge, realBridge)
	}
	if err := run("ip", "link", "add", "name", realBridge, "type", "bridge"); err != nil {
		return fmt.Errorf("real node: create bridge %s: %w", realBridge, err)
	}
	n.host.Bridge = true
	if err := n.saveState(); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"addr", "add", realGatewayIP + "/24", "dev", realBridge},
		{"link", "set", realBridge, "up"},
	} {
		if err := run("ip", args...); err != nil {
			return fmt.Errorf("real node: set up bridge %s: %w", realBridge, err)
		}
	}
	// Service addresses are virtual: kube-proxy rewrites them to pods' addresses. A
	// packet kube-proxy has no rule for yet (a Service created a moment ago) would
	// follow the default route off this machine; this route refuses it instead. (This
	// machine's own processes reach Services through port-forwards, not their addresses.)
	if err := run("ip", "route", "add", "unreachable", serviceCIDR); err != nil {
		return fmt.Errorf("real node: route the Service range %s nowhere (is there a route for it already? `ip route show %s`): %w", serviceCIDR, serviceCIDR, err)
	}
	n.host.ServiceRoute = true
	if err := n.saveState(); err != nil {
		return err
	}
	for path, want := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":                 "1",
		"/proc/sys/net/bridge/bridge-nf-call-iptables":  "1",
		"/proc/sys/net/bridge/bridge-nf-call-ip6tables": "1",
	} {
		if err := setSysctl(path, want); err != nil {
			if strings.Contains(path, "bridge") && os.IsNotExist(err) {
				_ = run("modprobe", "br_netfilter")
				err = setSysctl(path, want)
			}
			if err != nil {
				return fmt.Errorf("real node: set %s to %s (Services need it): %w", path, want, err)
			}
		}
	}
	return nil
}

// checkPodCIDRFree refuses to start when an interface other than our bridge already has
// an address in the pods' range: routes would clash.
func checkPodCIDRFree() error {
	_, podNet, _ := net.ParseCIDR(realPodCIDR)
	ifaces, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("real node: list interfaces: %w", err)
	}
	for _, ifc := range ifaces {
		if ifc.Name == realBridge {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && podNet.Contains(ipn.IP) {
				return fmt.Errorf("real node: interface %s has %s, inside the pods' range %s; remove that address or stop what owns it", ifc.Name, ipn, realPodCIDR)
			}
		}
	}
	return nil
}

func setSysctl(path, value string) error {
	cur, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(cur)) == value {
		return nil
	}
	return os.WriteFile(path, []byte(value), 0o644)
}

// run runs a host tool, returning its output in the error.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (n *realNode) startContainerd(ctx context.Context, timeout time.Duration) error {
	n.socket = filepath.Join(n.dir, "containerd", "containerd.sock")
	cniConf := filepath.Join(n.dir, "cni", "net.d")
	list, err := cniConfList(filepath.Join(n.dir, "cni", "ipam"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cniConf, "10-shakedown.conflist"), list, 0o644); err != nil {
		return fmt.Errorf("real node: write CNI configuration: %w", err)
	}
	cfg := filepath.Join(n.dir, "containerd", "config.toml")
	sandbox, err := normalizeImageRef(n.opts.SandboxImage)
	if err != nil {
		return fmt.Errorf("real node: sandbox %w", err)
	}
	if err := os.WriteFile(cfg, []byte(containerdConfig(filepath.Join(n.dir, "containerd", "root"), filepath.Join(n.dir, "containerd", "state"),
		n.socket, n.opts.CNIBin, cniConf, sandbox)), 0o600); err != nil {
		return fmt.Errorf("real node: write containerd configuration: %w", err)
	}
	p, err := startProcess("containerd", filepath.Join(n.dir, "containerd.log"), n.opts.Containerd, "--config", cfg)
	if err != nil {
		return err
	}
	n.containerd = p
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return p.WaitReady(rctx, func(ctx context.Context) error {
		return exec.CommandContext(ctx, n.opts.Ctr, "--address", n.socket, "version").Run()
	})
}

// importImage imports a `docker save` archive into the Kubernetes namespace of the
// node's containerd.
func (n *realNode) importImage(ctx context.Context, archive io.Reader) error {
	cmd := exec.CommandContext(ctx, n.opts.Ctr, "--address", n.socket, "--namespace", "k8s.io", "images", "import", "-")
	cmd.Stdin = archive
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// normalizeImageRef names an image as the CRI does (docker.io/library/busybox:latest
// for busybox).
func normalizeImageRef(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	return reference.TagNameOnly(named).String(), nil
}

// grantNodeAccess lets CoreDNS's user read what it serves, and the API server's user
// towards kubelets use their API (logs, exec, port-forward) and nothing else.
func grantNodeAccess(ctx context.Context, cs kubernetes.Interface) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: coreDNSUser},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("real node: ClusterRole for CoreDNS: %w", err)
	}
	for user, clusterRole := range map[string]string{coreDNSUser: coreDNSUser, kubeletClientUser: "system:kubelet-api-admin"} {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "shakedown:" + strings.TrimPrefix(user, "shakedown:")},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("real node: ClusterRoleBinding for %s: %w", user, err)
		}
	}
	return nil
}

func (n *realNode) startCoreDNS(ctx context.Context, server string, ca []byte, user keyPair, timeout time.Duration) error {
	kubeconfig := filepath.Join(n.dir, "coredns", "kubeconfig")
	if err := writeKubeconfig(kubeconfig, "shakedown", server, ca, user); err != nil {
		return err
	}
	client := &http.Client{}
	p, _, err := launch(ctx, component{
		name:  "coredns",
		ports: 1,
		start: func(ports []int) (*procs.Process, error) {
			cf := filepath.Join(n.dir, "coredns", "Corefile")
			if err := os.WriteFile(cf, []byte(corefile(kubeconfig, ports[0], hostResolvConf())), 0o600); err != nil {
				return nil, fmt.Errorf("real node: write Corefile: %w", err)
			}
			return startProcess("coredns", filepath.Join(n.dir, "coredns.log"), n.opts.Binaries.CoreDNS, "-conf", cf)
		},
		ready: func(ctx context.Context, ports []int) error {
			return getOK(ctx, client, fmt.Sprintf("http://127.0.0.1:%d/ready", ports[0]))
		},
	}, timeout)
	if p != nil {
		n.coreDNS = p
	}
	return err
}

// hostResolvConf is the resolv.conf CoreDNS forwards other names to, and the kubelet
// gives pods with dnsPolicy Default.
func hostResolvConf() string {
	// systemd-resolved's stub file lists 127.0.0.53, which pods cannot reach.
	if _, err := os.Stat("/run/systemd/resolve/resolv.conf"); err == nil {
		return "/run/systemd/resolve/resolv.conf"
	}
	return "/etc/resolv.conf"
}

func (n *realNode) startKubeProxy(ctx context.Context, server string, ca []byte, user keyPair, timeout time.Duration) error {
	kubeconfig := filepath.Join(n.dir, "kube-proxy", "kubeconfig")
	if err := writeKubeconfig(kubeconfig, "shakedown", server, ca, user); err != nil {
		return err
	}
	client := &http.Client{}
	p, _, err := launch(ctx, component{
		name:  "kube-proxy",
		ports: 2,
		start: func(ports []int) (*procs.Process, error) {
			cfg := filepath.Join(n.dir, "kube-proxy", "config.yaml")
			if err := os.WriteFile(cfg, []byte(kubeProxyConfig(kubeconfig, ports[0], ports[1])), 0o600); err != nil {
				return nil, fmt.Errorf("real node: write kube-proxy configuration: %w", err)
			}
			return startProcess("kube-proxy", filepath.Join(n.dir, "kube-proxy.log"), n.opts.Binaries.KubeProxy, "--config="+cfg)
		},
		ready: func(ctx context.Context, ports []int) error {
			return getOK(ctx, client, fmt.Sprintf("http://%s:%d/metrics", realNodeName, ports[1]))
		},
	}, timeout)
	if p != nil {
		n.kubeProxy = p
	}
	return err
}

func (n *realNode) startKubelet(ctx context.Context, minor int, server string, p *pki, certs nodeCerts, timeout time.Duration) error {
	dir := filepath.Join(n.dir, "kubelet")
	files := map[string][]byte{
		"ca.crt":      p.ca.Cert,
		"kubelet.crt": certs.kubeletServing.Cert,
		"kubelet.key": certs.kubeletServing.Key,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, "shakedown", server, p.ca.Cert, certs.kubelet); err != nil {
		return err
	}
	client := &http.Client{}
	proc, _, err := launch(ctx, component{
		name:  "kubelet",
		ports: 2,
		start: func(ports []int) (*procs.Process, error) {
			cfg := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(cfg, []byte(kubeletConfig(minor, ports[0], ports[1], filepath.Join(dir, "ca.crt"),
				filepath.Join(dir, "kubelet.crt"), filepath.Join(dir, "kubelet.key"), hostResolvConf())), 0o600); err != nil {
				return nil, fmt.Errorf("real node: write kubelet configuration: %w", err)
			}
			return startProcess("kubelet", filepath.Join(n.dir, "kubelet.log"), n.opts.Binaries.Kubelet,
				"--config="+cfg,
				"--kubeconfig="+kubeconfig,
				"--root-dir="+filepath.Join(dir, "root"),
				"--container-runtime-endpoint=unix://"+n.socket,
				"--hostname-override="+realNodeName,
				"--node-labels=node.kubernetes.io/instance-type=local,topology.kubernetes.io/region=local,topology.kubernetes.io/zone=zone-a",
				"--v=1",
			)
		},
		ready: func(ctx context.Context, ports []int) error {
			return getOK(ctx, client, fmt.Sprintf("http://%s:%d/healthz", realNodeName, ports[1]))
		},
	}, timeout)
	if proc != nil {
		n.kubelet = proc
	}
	return err
}

// stop tears the node down: the kubelet first (so nothing restarts pods), then every
// pod sandbox through the CRI (which also runs CNI DEL: veths, addresses, NAT rules),
// kube-proxy and its iptables chains, CoreDNS, containerd; then what the node left on
// the host: mounts under its directory, the bridge, the kubelet's fixed paths, cgroups.
func (n *realNode) stop() error {
	var errs []error
	if n.kubelet != nil {
		if err := n.kubelet.Stop(syscall.SIGTERM, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if n.containerd != nil && !n.containerd.Exited() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		if err := removeAllPods(ctx, n.socket); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	if n.kubeProxy != nil {
		if err := n.kubeProxy.Stop(syscall.SIGTERM, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
		if err := run(n.opts.Binaries.KubeProxy, "--cleanup"); err != nil {
			n.logf("kube-proxy --cleanup: %v", err)
		}
	}
	if n.coreDNS != nil {
		if err := n.coreDNS.Stop(syscall.SIGTERM, 5*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if n.containerd != nil {
		if err := n.containerd.Stop(syscall.SIGTERM, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
		killShims(n.socket)
	}
	errs = append(errs, n.host.restore(n.dir)...)
	if err := os.Remove(realNodeState); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	if n.unlock != nil {
		n.unlock()
	}
	return errors.Join(errs...)
}
