package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mount"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Host paths the kubelet and the CNI plugins write whatever the node's own directories:
// the device-plugin socket, container log links, pod log directories, cached CNI results.
var realNodeHostDirs = []string{"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni"}

// hostState is what existed on the host before the node started, so teardown removes
// only what the node added. It is saved beside the lock (realNodeState) while the node
// runs, so the next real node cleans up after one whose process was killed.
type hostState struct {
	// Existed maps each of realNodeHostDirs to the names it held (nil: it did not
	// exist; absent: it could not be read, so it is left alone).
	Existed map[string]map[string]bool `json:"existed"`
	// Cgroups are the cgroup directories named kubepods that did not exist.
	Cgroups []string `json:"cgroups"`
	// Bridge says the node made realBridge; ServiceRoute, the unreachable route of the
	// Service range.
	Bridge       bool `json:"bridge"`
	ServiceRoute bool `json:"service_route"`
	// Chains are the KUBE-* and CNI-* iptables chains that existed (nil: they could not
	// be listed, so none is removed).
	Chains map[string]bool `json:"chains"`
	// Sysctls are kernel settings the kubelet or kube-proxy may change, as they were.
	Sysctls map[string]string `json:"sysctls"`
}

// restoredSysctls are the kernel settings the kubelet (kernel defaults it wants) and
// kube-proxy (route_localnet) change, put back when the node stops. Forwarding and
// bridge netfilter are left on: the Docker engine turns on the same and may be using them.
var restoredSysctls = []string{
	"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory", "vm/panic_on_oom",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "net/ipv4/conf/all/route_localnet",
}

func snapshotHost() hostState {
	h := hostState{Existed: map[string]map[string]bool{}, Chains: iptablesChains(), Sysctls: map[string]string{}}
	for _, d := range realNodeHostDirs {
		entries, err := os.ReadDir(d)
		switch {
		case os.IsNotExist(err):
			h.Existed[d] = nil
			continue
		case err != nil:
			continue // unknown: never removed
		}
		names := map[string]bool{}
		for _, e := range entries {
			names[e.Name()] = true
		}
		h.Existed[d] = names
	}
	for _, dir := range cgroupRoots() {
		p := filepath.Join(dir, "kubepods")
		if _, err := os.Stat(p); os.IsNotExist(err) {
			h.Cgroups = append(h.Cgroups, p)
		}
	}
	for _, name := range restoredSysctls {
		if v, err := os.ReadFile(filepath.Join("/proc/sys", name)); err == nil {
			h.Sysctls[name] = strings.TrimSpace(string(v))
		}
	}
	return h
}

// cgroupRoots are the mounted cgroup hierarchies (v1: one per controller; v2: one).
func cgroupRoots() []string {
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	var roots []string
	for _, e := range entries {
		if e.IsDir() {
			roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return roots
}

// restore undoes what the node did to the host: mounts under dir, the bridge, new
// entries in the kubelet's host paths, and the kubepods cgroups it made.
func (h hostState) restore(dir string) []error {
	var errs []error
	if err := unmountUnder(dir); err != nil {
		errs = append(errs, err)
	}
	if h.Bridge {
		if err := run("ip", "link", "del", realBridge); err != nil {
			errs = append(errs, err)
		}
	}
	if h.ServiceRoute {
		if err := run("ip", "route", "del", "unreachable", serviceCIDR); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range realNodeHostDirs {
		before, ok := h.Existed[d]
		if !ok {
			continue
		}
		if before == nil { // the node made it
			if err := unmountUnder(d); err != nil {
				errs = append(errs, err)
			}
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if before[e.Name()] {
				continue
			}
			p := filepath.Join(d, e.Name())
			if err := unmountUnder(p); err != nil {
				errs = append(errs, err)
			}
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if h.Chains != nil {
		if err := removeNewChains(h.Chains); err != nil {
			errs = append(errs, err)
		}
	}
	for _, cg := range h.Cgroups {
		if err := removeCgroupTree(cg); err != nil {
			errs = append(errs, err)
		}
	}
	for name, was := range h.Sysctls {
		if err := setSysctl(filepath.Join("/proc/sys", name), was); err != nil {
			errs = append(errs, fmt.Errorf("restore %s to %s: %w", name, was, err))
		}
	}
	return errs
}

// unmountUnder lazily unmounts every mount point at or below dir, deepest first
// (secrets and emptyDirs on tmpfs, overlay roots, network namespaces).
func unmountUnder(dir string) error {
	if err := mount.RecursiveUnmount(filepath.Clean(dir)); err != nil {
		return fmt.Errorf("unmount what is under %s: %w", dir, err)
	}
	return nil
}

// removeCgroupTree removes a cgroup directory and its children, deepest first. A
// cgroup is removed with rmdir once no process is in it, so the processes still in one
// (containers whose runtime died) are killed first.
func removeCgroupTree(root string) error {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var errs []error
	for _, d := range dirs {
		var err error
		for attempt := 0; attempt < 20; attempt++ {
			if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
				err = nil
				break
			}
			killCgroupProcs(d)
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// killCgroupProcs kills every process in cgroup directory dir.
func killCgroupProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeAllPods stops and removes every pod sandbox of the runtime at socket, as
// `crictl rmp --all --force` does: stopping a sandbox runs CNI DEL and kills its
// containers.
func removeAllPods(ctx context.Context, socket string) error {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("real node: connect to containerd %s: %w", socket, err)
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	list, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("real node: list pod sandboxes: %w", err)
	}
	var errs []error
	for _, sb := range list.GetItems() {
		if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop pod sandbox %s (%s/%s): %w", sb.Id, sb.GetMetadata().GetNamespace(), sb.GetMetadata().GetName(), err))
			continue
		}
		if _, err := rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod sandbox %s: %w", sb.Id, err))
		}
	}
	return errors.Join(errs...)
}

// killShims kills containerd-shim processes of the node's containerd left running
// (their command line names its socket's directory), with their containers.
func killShims(socket string) {
	stateDir := filepath.Dir(socket)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if strings.Contains(string(cmdline), stateDir) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
