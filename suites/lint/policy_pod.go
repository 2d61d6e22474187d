package lint

import "fmt"

// checkPodHostAccess is the pod part of SD010: host namespaces and hostPath volumes.
func (c *cellRun) checkPodHostAccess() {
	for _, w := range c.workloads() {
		s := w.spec
		for _, ns := range []struct {
			on   bool
			name string
		}{{s.HostNetwork, "hostNetwork"}, {s.HostPID, "hostPID"}, {s.HostIPC, "hostIPC"}} {
			if ns.on {
				c.add(RuleHostAccess, w.obj, w.specPath+"."+ns.name, fmt.Sprintf("pods set %s: true", ns.name))
			}
		}
		for i, v := range s.Volumes {
			if v.HostPath != nil {
				c.add(RuleHostAccess, w.obj, fieldIndex(w.specPath+".volumes", i)+".hostPath",
					fmt.Sprintf("volume %q mounts host path %s", v.Name, v.HostPath.Path))
			}
		}
	}
}
