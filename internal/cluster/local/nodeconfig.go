package local

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Addresses of the real node. The kubelet refuses a loopback --node-ip, but a
// hostname override that is an IP becomes the node's address: 127.0.0.2 keeps the API
// server's calls to the kubelet (logs, exec, port-forward) on loopback.
const (
	realNodeName = "127.0.0.2"
	// realBridge is the Linux bridge the pods' veths join (at most 15 characters).
	realBridge = "shakedown0"
	// realPodCIDR holds the pod addresses; its first address is the bridge's, the pods'
	// gateway and the cluster DNS server's.
	realPodCIDR   = "10.244.0.0/24"
	realGatewayIP = "10.244.0.1"
	// realCNINetwork names the CNI network (and its cached results).
	realCNINetwork = "shakedown"
	clusterDomain  = "cluster.local"
)

// containerdConfig is the configuration of the node's own containerd (1.6 format,
// version 2): root, state and socket inside dir, CNI from cniBin with the conflist in
// cniConf, and sandboxImage as every pod's sandbox. restrict_oom_score_adj keeps runc
// from lowering oom_score_adj, which needs CAP_SYS_RESOURCE (missing on some VMs, where
// every sandbox then fails with "can't get final child's PID from pipe").
func containerdConfig(root, state, socket, cniBin, cniConf, sandboxImage string) string {
	q := strconv.Quote
	return `version = 2
root = ` + q(root) + `
state = ` + q(state) + `
# Plugins that would write outside root and state, or that this node does not use.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ` + q(socket) + `

[ttrpc]
  address = ` + q(socket+".ttrpc") + `

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ` + q(sandboxImage) + `
  restrict_oom_score_adj = true
  enable_selinux = false
  # Pods' network namespaces under state, not /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = ` + q(filepath.Join(state, "runc")) + `
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ` + q(cniBin) + `
    conf_dir = ` + q(cniConf) + `
    max_conf_num = 1
`
}

// cniConfList is the pods' network: a bridge with host-local addresses from
// realPodCIDR (their state in ipamDir), NAT for traffic leaving the node, portmap for
// hostPorts, and the firewall plugin, which admits the pods' traffic through a FORWARD
// chain whose policy may be DROP (Docker sets that).
func cniConfList(ipamDir string) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       realCNINetwork,
		"plugins": []map[string]any{
			{
				"type":        "bridge",
				"bridge":      realBridge,
				"isGateway":   true,
				"ipMasq":      true,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": realPodCIDR, "gateway": realGatewayIP}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": ipamDir,
				},
			},
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
			{"type": "firewall"},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// kubeletConfig is the KubeletConfiguration of the real node for Kubernetes minor
// version minor: cgroupfs (no systemd here), swap and cgroup v1 tolerated, serving on
// realNodeName only, webhook authentication and authorization against the API server,
// images never garbage-collected (they cannot be pulled again), and eviction only near
// exhaustion (the node shares this machine's disk and memory with everything else).
func kubeletConfig(minor int, port, healthzPort int, caFile, certFile, keyFile, resolvConf string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: %s
healthzPort: %d
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %s}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failSwapOn: false
clusterDomain: %s
clusterDNS: [%s]
resolvConf: %s
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", nodefs.inodesFree: "1%%", imagefs.available: "1%%"}
maxPods: 110
rotateCertificates: false
serverTLSBootstrap: false
`, realNodeName, port, realNodeName, healthzPort, quoteYAML(certFile), quoteYAML(keyFile), quoteYAML(caFile),
		clusterDomain, realGatewayIP, quoteYAML(resolvConf))
	// failCgroupV1 exists from 1.31; 1.35 turns it on by default, and this machine may run
	// cgroup v1. Older kubelets refuse the unknown field.
	if minor >= 31 {
		b.WriteString("failCgroupV1: false\n")
	}
	return b.String()
}

// kubeProxyConfig runs kube-proxy in iptables mode for the node, masquerading traffic to
// Services from outside realPodCIDR, with NodePorts on the bridge's address only (never
// on this machine's other interfaces, and not on loopback, which would need
// route_localnet), and leaves the host's conntrack settings alone
// (zero values): a VM may not let it change them.
func kubeProxyConfig(kubeconfig string, healthzPort, metricsPort int) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
bindAddress: %s
healthzBindAddress: %s:%d
metricsBindAddress: %s:%d
mode: iptables
clusterCIDR: %s
nodePortAddresses: [%s/32]
iptables:
  localhostNodePorts: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, quoteYAML(kubeconfig), realNodeName, realNodeName, realNodeName, healthzPort, realNodeName, metricsPort, realPodCIDR, realGatewayIP)
}

// corefile serves the cluster's names (Services, and pods of headless Services by
// their hostnames) on the bridge address the pods use as their nameserver, and
// forwards other names to this machine's resolvers.
func corefile(kubeconfig string, readyPort int, resolvConf string) string {
	return fmt.Sprintf(`.:53 {
    bind %s
    errors
    ready 127.0.0.1:%d
    kubernetes %s in-addr.arpa ip6.arpa {
        kubeconfig %s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    forward . %s
    cache 5
}
`, realGatewayIP, readyPort, clusterDomain, kubeconfig, resolvConf)
}

// quoteYAML quotes s as a YAML double-quoted scalar (JSON strings are valid YAML).
func quoteYAML(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
