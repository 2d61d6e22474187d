package lint

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
)

// checkServerRules applies the parts of SD106 that the API server validates in
// code rather than in its OpenAPI schema: object names and Service ports.
func (c *cellRun) checkServerRules() {
	for _, o := range c.objects {
		c.checkName(o, o.where())
		if svc, ok := o.typed.(*corev1.Service); ok && len(svc.Spec.Ports) == 0 &&
			svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.Type != corev1.ServiceTypeExternalName {
			c.add(RuleSchema, o, "spec.ports", fmt.Sprintf("%s: spec.ports: Required value: a Service of type %s needs at least one port unless it is headless (clusterIP: None)",
				o.where(), orDefault(string(svc.Spec.Type), "ClusterIP")))
		}
	}
}

// checkName is the metadata.name part of SD106: the API server refuses an
// object without a name (unless generateName is set) or with a name its kind
// does not allow. The per-kind name rules are those of the Kubernetes API
// validation, which cannot be imported from k8s.io/kubernetes.
func (c *cellRun) checkName(o *object, where string) {
	meta, _ := o.raw["metadata"].(map[string]any)
	if o.ref.Name == "" {
		if gen, _ := meta["generateName"].(string); gen == "" {
			c.add(RuleSchema, o, "metadata.name", fmt.Sprintf("%s: metadata.name: Required value: %s %s has no name", where, o.ref.APIVersion, o.ref.Kind))
		}
		return
	}
	if problems := nameRule(o.ref.Kind)(o.ref.Name, false); len(problems) > 0 {
		c.add(RuleSchema, o, "metadata.name", fmt.Sprintf("%s: metadata.name: Invalid value %q for a %s: %s", where, o.ref.Name, o.ref.Kind, strings.Join(problems, "; ")))
	}
}

// nameRule returns the name validation of a kind; most kinds take DNS subdomains.
func nameRule(kind string) validation.ValidateNameFunc {
	switch kind {
	case "Service":
		return validation.NameIsDNS1035Label
	case "Namespace":
		return validation.ValidateNamespaceName
	case "ServiceAccount":
		return validation.ValidateServiceAccountName
	case "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
		return func(name string, prefix bool) []string { return path.IsValidPathSegmentName(name) }
	case "CertificateSigningRequest":
		return func(string, bool) []string { return nil }
	default:
		return validation.NameIsDNSSubdomain
	}
}
