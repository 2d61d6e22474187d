package lint

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// checkContainers applies the per-container rules SD001-SD006 and the
// container part of SD010 to every workload.
func (c *cellRun) checkContainers() {
	for _, w := range c.workloads() {
		for _, ct := range w.containers() {
			c.checkResources(w, ct)
			c.checkProbes(w, ct)
			c.checkSecurityContext(w, ct)
			c.checkImage(w, ct)
			c.checkContainerHostAccess(w, ct)
		}
	}
}

// checkResources is SD001: cpu and memory requests and a memory limit.
func (c *cellRun) checkResources(w workload, ct container) {
	r := ct.c.Resources
	var missing []string
	for _, need := range []struct {
		list corev1.ResourceList
		name corev1.ResourceName
		text string
	}{
		{r.Requests, corev1.ResourceCPU, "requests.cpu"},
		{r.Requests, corev1.ResourceMemory, "requests.memory"},
		{r.Limits, corev1.ResourceMemory, "limits.memory"},
	} {
		if _, ok := need.list[need.name]; !ok {
			missing = append(missing, need.text)
		}
	}
	if len(missing) > 0 {
		c.add(RuleResources, w.obj, ct.path+".resources",
			fmt.Sprintf("%s sets no resources %s", ct.label, strings.Join(missing, ", ")))
	}
}

// checkProbes is SD002: long-running containers have liveness and readiness probes.
func (c *cellRun) checkProbes(w workload, ct container) {
	if !w.longRunning || ct.init {
		return
	}
	var missing []string
	if ct.c.LivenessProbe == nil {
		missing = append(missing, "livenessProbe")
	}
	if ct.c.ReadinessProbe == nil {
		missing = append(missing, "readinessProbe")
	}
	if len(missing) > 0 {
		c.add(RuleProbes, w.obj, ct.path, fmt.Sprintf("%s has no %s", ct.label, strings.Join(missing, " and no ")))
	}
}

// checkSecurityContext is SD003 (runAsNonRoot), SD004 (readOnlyRootFilesystem)
// and SD005 (allowPrivilegeEscalation: false).
func (c *cellRun) checkSecurityContext(w workload, ct container) {
	sc := ct.c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	pod := w.spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	scPath := ct.path + ".securityContext"

	nonRoot, user := sc.RunAsNonRoot, sc.RunAsUser
	if nonRoot == nil {
		nonRoot = pod.RunAsNonRoot
	}
	if user == nil {
		user = pod.RunAsUser
	}
	switch {
	case user != nil && *user == 0:
		c.add(RuleRunAsNonRoot, w.obj, scPath+".runAsUser", fmt.Sprintf("%s runs as root (runAsUser: 0)", ct.label))
	case nonRoot == nil || !*nonRoot:
		c.add(RuleRunAsNonRoot, w.obj, scPath+".runAsNonRoot",
			fmt.Sprintf("%s does not set runAsNonRoot: true on the container or the pod", ct.label))
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		c.add(RuleReadOnlyRootFS, w.obj, scPath+".readOnlyRootFilesystem",
			fmt.Sprintf("%s does not set readOnlyRootFilesystem: true", ct.label))
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.add(RuleNoPrivEscalation, w.obj, scPath+".allowPrivilegeEscalation",
			fmt.Sprintf("%s does not set allowPrivilegeEscalation: false", ct.label))
	}
}

// checkImage is SD006: the image names a version tag or a digest.
func (c *cellRun) checkImage(w workload, ct container) {
	if problem := unpinned(ct.c.Image); problem != "" {
		c.add(RulePinnedImage, w.obj, ct.path+".image", fmt.Sprintf("%s: %s", ct.label, problem))
	}
}

// unpinned says why an image reference is not pinned, or "" when it is.
func unpinned(image string) string {
	if strings.TrimSpace(image) == "" {
		return "image is empty"
	}
	if _, digest, ok := strings.Cut(image, "@"); ok {
		if algo, hex, ok := strings.Cut(digest, ":"); ok && algo != "" && hex != "" {
			return ""
		}
		return fmt.Sprintf("image %q has a malformed digest", image)
	}
	last := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(last, ":")
	switch {
	case !ok:
		return fmt.Sprintf("image %q has no tag, so it pulls latest", image)
	case tag == "":
		return fmt.Sprintf("image %q has an empty tag", image)
	case tag == "latest":
		return fmt.Sprintf("image %q uses the mutable tag latest", image)
	}
	return ""
}

// checkContainerHostAccess is the container part of SD010: privileged mode,
// added capabilities and host ports.
func (c *cellRun) checkContainerHostAccess(w workload, ct container) {
	if sc := ct.c.SecurityContext; sc != nil {
		if sc.Privileged != nil && *sc.Privileged {
			c.add(RuleHostAccess, w.obj, ct.path+".securityContext.privileged", fmt.Sprintf("%s runs privileged", ct.label))
		}
		if sc.Capabilities != nil {
			var added []string
			for _, cp := range sc.Capabilities.Add {
				if cp != "NET_BIND_SERVICE" {
					added = append(added, string(cp))
				}
			}
			if len(added) > 0 {
				c.add(RuleHostAccess, w.obj, ct.path+".securityContext.capabilities.add",
					fmt.Sprintf("%s adds capabilities %s", ct.label, strings.Join(added, ", ")))
			}
		}
	}
	for i, p := range ct.c.Ports {
		if p.HostPort != 0 {
			c.add(RuleHostAccess, w.obj, fieldIndex(ct.path+".ports", i)+".hostPort",
				fmt.Sprintf("%s binds host port %d", ct.label, p.HostPort))
		}
	}
}
