package local

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/mattn/go-shellwords"
)

// iptablesTools are the families whose rules the kubelet and the CNI firewall plugin
// add chains to.
var iptablesTools = []string{"iptables", "ip6tables"}

var iptablesTables = []string{"filter", "nat", "mangle"}

// ownedChain reports the chains a real node's kubelet (KUBE-FIREWALL,
// KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT), kube-proxy (KUBE-*) and the CNI plugins
// (CNI-*) create.
func ownedChain(name string) bool {
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "CNI-")
}

// iptablesChains returns "tool table chain" for every owned chain that exists now.
func iptablesChains() map[string]bool {
	chains := map[string]bool{}
	for _, tool := range iptablesTools {
		for _, table := range iptablesTables {
			out, err := exec.Command(tool+"-save", "-t", table).Output()
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, ":") {
					name := strings.Fields(line[1:])[0]
					if ownedChain(name) {
						chains[tool+" "+table+" "+name] = true
					}
				}
			}
		}
	}
	return chains
}

// removeNewChains deletes the owned chains that were not there before (the rules
// jumping to them first), leaving chains that other software made alone.
func removeNewChains(before map[string]bool) error {
	var errs []error
	for _, tool := range iptablesTools {
		for _, table := range iptablesTables {
			out, err := exec.Command(tool+"-save", "-t", table).Output()
			if err != nil {
				continue
			}
			var lines []string
			isNew := map[string]bool{}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, ":") {
					name := strings.Fields(line[1:])[0]
					if ownedChain(name) && !before[tool+" "+table+" "+name] {
						isNew[name] = true
					}
				}
				if strings.HasPrefix(line, "-A ") {
					lines = append(lines, line)
				}
			}
			if len(isNew) == 0 {
				continue
			}
			for _, line := range lines {
				args, err := shellwords.NewParser().Parse(line) // iptables-save quotes comments as a shell does
				if err != nil || len(args) < 2 {
					continue
				}
				target := ""
				for i := 0; i+1 < len(args); i++ {
					if args[i] == "-j" || args[i] == "-g" {
						target = args[i+1]
					}
				}
				if !isNew[target] || isNew[args[1]] { // rules inside a new chain go with it
					continue
				}
				args[0] = "-D"
				if err := run(tool, append([]string{"-w", "-t", table}, args...)...); err != nil {
					errs = append(errs, err)
				}
			}
			for name := range isNew {
				_ = run(tool, "-w", "-t", table, "-F", name)
			}
			for name := range isNew {
				if err := run(tool, "-w", "-t", table, "-X", name); err != nil {
					errs = append(errs, fmt.Errorf("remove %s chain %s/%s: %w", tool, table, name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}
