package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/shakedown-dev/shakedown/suites/integration"
)

// TestIntegrationRealNodeRunsTheChart is `shakedown integration --nodes real`: the
// chart's pods really run on a kubelet with containerd, built and imported images,
// CoreDNS and kube-proxy; the app reaches PostgreSQL, Kafka and ClickHouse through their
// Services, and events sent through a port-forward to the capture Service are all
// stored in the in-cluster ClickHouse. Afterwards nothing of the node is left on the
// host.
func TestIntegrationRealNodeRunsTheChart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a real node needs root (kubelet, containerd, CNI); this test runs as uid", os.Geteuid())
	}
	before := hostFacts(t)
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"integration", "../../charts/reference-stack", "--nodes", "real", "--kubernetes", "1.34.4",
		"--events", "3000", "--output", "json"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("integration --nodes real: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	var report integration.Report
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	wantSteps := []integration.Step{integration.StepDryRun, integration.StepInstall, integration.StepAssert, integration.StepTraffic,
		integration.StepUpgrade, integration.StepRollback, integration.StepUninstall}
	for _, step := range wantSteps {
		row, ok := report.Row("1.34.4", localImagesCloud, step)
		if !ok || row.Status != integration.StatusPass {
			t.Errorf("%s: %+v, want a passing row\n%s", step, row, errOut.String())
		}
	}
	traffic, _ := report.Row("1.34.4", localImagesCloud, integration.StepTraffic)
	if !strings.Contains(traffic.Message, "3000 acknowledged, 3000 stored (3000 distinct), 0 missing") {
		t.Errorf("traffic row says %q, want every one of 3000 events acknowledged and stored", traffic.Message)
	}
	if after := hostFacts(t); after != before {
		t.Errorf("the real node left something on the host:\nbefore %+v\nafter  %+v", before, after)
	}
}

// hostState is what a real node may leave behind on this machine.
type hostState struct {
	Bridge, ServiceRoute, KubeletDir, PodLogs, CNIDir bool
	Chains, Sysctls                                   string
	Shims                                             int
}

func hostFacts(t *testing.T) hostState {
	t.Helper()
	var h hostState
	if ifc, err := net.InterfaceByName("shakedown0"); err == nil && ifc != nil {
		h.Bridge = true
	}
	if out, err := exec.Command("ip", "route", "show", "type", "unreachable").Output(); err == nil {
		h.ServiceRoute = strings.Contains(string(out), "10.96.0.0/16")
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	h.KubeletDir, h.PodLogs, h.CNIDir = exists("/var/lib/kubelet"), exists("/var/log/pods"), exists("/var/lib/cni")
	if out, err := exec.Command("iptables-save").Output(); err == nil {
		var chains []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, ":KUBE-") || strings.HasPrefix(line, ":CNI-") {
				chains = append(chains, strings.Fields(line)[0])
			}
		}
		h.Chains = strings.Join(chains, " ")
	}
	for _, name := range []string{"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory", "net/ipv4/conf/all/route_localnet"} {
		v, _ := os.ReadFile("/proc/sys/" + name)
		h.Sysctls += name + "=" + strings.TrimSpace(string(v)) + " "
	}
	// pgrep exits 1 when nothing matches, still printing 0.
	out, _ := exec.Command("pgrep", "-c", "-f", "containerd-shim.*shakedown-kube-").Output()
	h.Shims, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	return h
}

func TestNodesFlagUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"integration", "../../charts/reference-stack", "--nodes", "0"},
		{"integration", "../../charts/reference-stack", "--nodes", "lots"},
		{"integration", "../../charts/reference-stack", "--nodes", "real", "--kubeconfig", "/nonexistent"},
		{"integration", "../../charts/reference-stack", "--events", "5"},
		{"integration", "../../charts/reference-stack", "--nodes", "real", "--events", "0"},
		{"cluster", "up", "--nodes", "real", "--default-storage-class", "gp3"},
		{"cluster", "build", "--nodes", "fake"},
	} {
		cmd := newRootCmd()
		cmd.SetArgs(args)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.ExecuteContext(context.Background())
		var exit *exitError
		if !errors.As(err, &exit) || exit.code != exitUsage {
			t.Errorf("%v: got %v, want a usage error (exit 2)", args, err)
		}
	}
}
