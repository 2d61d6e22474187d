package local

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestKubeletConfigNamesFailCgroupV1OnlyWhereItExists(t *testing.T) {
	for _, tc := range []struct {
		minor int
		want  bool
	}{{28, false}, {30, false}, {31, true}, {34, true}} {
		cfg := kubeletConfig(tc.minor, 10250, 10248, "/p/ca.crt", "/p/kubelet.crt", "/p/kubelet.key", "/etc/resolv.conf")
		var parsed map[string]any
		if err := yaml.Unmarshal([]byte(cfg), &parsed); err != nil {
			t.Fatalf("1.%d: kubelet config is not YAML: %v\n%s", tc.minor, err, cfg)
		}
		if _, has := parsed["failCgroupV1"]; has != tc.want {
			t.Errorf("1.%d: failCgroupV1 present %v, want %v (older kubelets refuse the field)", tc.minor, has, tc.want)
		}
		if parsed["address"] != realNodeName || parsed["cgroupDriver"] != "cgroupfs" || parsed["failSwapOn"] != false {
			t.Errorf("1.%d: address %v, cgroupDriver %v, failSwapOn %v", tc.minor, parsed["address"], parsed["cgroupDriver"], parsed["failSwapOn"])
		}
		if dns, _ := parsed["clusterDNS"].([]any); len(dns) != 1 || dns[0] != realGatewayIP {
			t.Errorf("1.%d: clusterDNS %v, want [%s] (CoreDNS on the bridge)", tc.minor, parsed["clusterDNS"], realGatewayIP)
		}
		auth, _ := parsed["authentication"].(map[string]any)
		if anon, _ := auth["anonymous"].(map[string]any); anon["enabled"] != false {
			t.Errorf("1.%d: anonymous kubelet access %v, want off", tc.minor, auth["anonymous"])
		}
	}
}

func TestNodeConfigsQuotePathsAndKeepNodePortsOnLoopback(t *testing.T) {
	proxy := kubeProxyConfig(`/tmp/a dir/"kubeconfig"`, 1, 2)
	var parsed map[string]any
	if err := yaml.Unmarshal([]byte(proxy), &parsed); err != nil {
		t.Fatalf("kube-proxy config: %v\n%s", err, proxy)
	}
	if cc, _ := parsed["clientConnection"].(map[string]any); cc["kubeconfig"] != `/tmp/a dir/"kubeconfig"` {
		t.Errorf("kubeconfig path came out as %v", cc["kubeconfig"])
	}
	if npa, _ := parsed["nodePortAddresses"].([]any); len(npa) != 1 || npa[0] != realGatewayIP+"/32" {
		t.Errorf("nodePortAddresses %v: NodePorts must stay on the bridge's address", parsed["nodePortAddresses"])
	}
	if ipt, _ := parsed["iptables"].(map[string]any); ipt["localhostNodePorts"] != false {
		t.Errorf("iptables %v: localhost NodePorts need route_localnet, which exposes 127.0.0.1 services", parsed["iptables"])
	}
	list, err := cniConfList("/x/ipam")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string           `json:"name"`
		Plugins []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(list, &conf); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range conf.Plugins {
		types = append(types, p["type"].(string))
	}
	if conf.Name != realCNINetwork || strings.Join(types, ",") != "bridge,portmap,firewall" {
		t.Errorf("CNI network %q with plugins %v, want bridge,portmap,firewall", conf.Name, types)
	}
	cd := containerdConfig("/r", "/s", "/s/c.sock", "/usr/lib/cni", "/n", "docker.io/shakedown/pause:local")
	for _, want := range []string{`restrict_oom_score_adj = true`, `netns_mounts_under_state_dir = true`, `Root = "/s/runc"`, `sandbox_image = "docker.io/shakedown/pause:local"`, `address = "/s/c.sock"`, `conf_dir = "/n"`} {
		if !strings.Contains(cd, want) {
			t.Errorf("containerd config lacks %s:\n%s", want, cd)
		}
	}
}

func TestNormalizeImageRefNamesImagesAsTheCRIDoes(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                      "docker.io/library/busybox:latest",
		"shakedown/pause:local":        "docker.io/shakedown/pause:local",
		"ghcr.io/a/b:1":                "ghcr.io/a/b:1",
		"localhost:5000/x":             "localhost:5000/x:latest",
		"registry.local:5000/a/b:v1.2": "registry.local:5000/a/b:v1.2",
	} {
		if got, err := normalizeImageRef(in); got != want || err != nil {
			t.Errorf("normalizeImageRef(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := normalizeImageRef("Shakedown/Pause"); err == nil {
		t.Error("an upper-case repository accepted: containerd would refuse it at the first pod")
	}
}
