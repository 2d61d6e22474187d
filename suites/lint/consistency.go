package lint

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// checkSelectors is SD120: a workload's selector selects its own pod template,
// which the API server requires (apps/v1 also requires the selector itself).
func (c *cellRun) checkSelectors() {
	for _, o := range c.objects {
		var (
			sel      *metav1.LabelSelector
			tmpl     map[string]string
			required bool
		)
		switch t := o.typed.(type) {
		case *appsv1.Deployment:
			sel, tmpl, required = t.Spec.Selector, t.Spec.Template.Labels, true
		case *appsv1.StatefulSet:
			sel, tmpl, required = t.Spec.Selector, t.Spec.Template.Labels, true
		case *appsv1.DaemonSet:
			sel, tmpl, required = t.Spec.Selector, t.Spec.Template.Labels, true
		case *appsv1.ReplicaSet:
			sel, tmpl, required = t.Spec.Selector, t.Spec.Template.Labels, true
		case *batchv1.Job:
			if t.Spec.ManualSelector == nil || !*t.Spec.ManualSelector {
				continue // the Job controller generates the selector
			}
			sel, tmpl = t.Spec.Selector, t.Spec.Template.Labels
		case *corev1.ReplicationController:
			if len(t.Spec.Selector) == 0 || t.Spec.Template == nil {
				continue // defaults to the template's labels
			}
			sel, tmpl = &metav1.LabelSelector{MatchLabels: t.Spec.Selector}, t.Spec.Template.Labels
		default:
			continue
		}
		c.checkSelector(o, sel, tmpl, required)
	}
}

// checkSelector judges one workload's selector against its template labels.
func (c *cellRun) checkSelector(o *object, sel *metav1.LabelSelector, tmpl map[string]string, required bool) {
	if sel == nil {
		if required {
			c.add(RuleSelectorMismatch, o, "spec.selector", fmt.Sprintf("%s %s has no spec.selector; %s requires one matching the pod template labels (%s)",
				o.ref.APIVersion, o.ref.Kind, o.ref.APIVersion, labels.Set(tmpl)))
		}
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		c.add(RuleSelectorMismatch, o, "spec.selector", fmt.Sprintf("spec.selector is not a valid label selector: %v", err))
		return
	}
	if s.Empty() {
		c.add(RuleSelectorMismatch, o, "spec.selector", "spec.selector is empty; it must select the pod template's labels ("+labels.Set(tmpl).String()+")")
		return
	}
	if !s.Matches(labels.Set(tmpl)) {
		c.add(RuleSelectorMismatch, o, "spec.selector", fmt.Sprintf("spec.selector (%s) does not match the pod template labels (%s), so the API server refuses %s",
			s, orDefault(labels.Set(tmpl).String(), "none"), o.ref))
	}
}

// checkServices is SD121: a Service with a selector selects the pods of at
// least one pod source of the release in its namespace.
func (c *cellRun) checkServices() {
	sources := c.podSources()
	for _, o := range c.objects {
		svc, ok := o.typed.(*corev1.Service)
		if !ok || len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		if slices.ContainsFunc(sources, func(p podSource) bool {
			return p.obj.ref.Namespace == o.ref.Namespace && sel.Matches(p.labels)
		}) {
			continue
		}
		c.add(RuleServiceNoPods, o, "spec.selector", fmt.Sprintf("Service/%s selects %s, which no pod template of the release in namespace %s carries, so it has no endpoints%s",
			o.ref.Name, sel, o.ref.Namespace, closestPods(sources, o.ref.Namespace, svc.Spec.Selector)))
	}
}

// podSource is an object of the release that makes pods with labels.
type podSource struct {
	obj    *object
	labels labels.Set
}

// podSources lists what makes pods, read from the raw objects so that custom
// resources with a pod template (an Argo Rollout, a Knative revision) and
// objects that failed to decode count too: a Pod's own labels, and the labels
// of spec.template or spec.jobTemplate.spec.template. Hooks are left out: they
// run only around installs.
func (c *cellRun) podSources() []podSource {
	var out []podSource
	for _, o := range c.objects {
		if o.hook() {
			continue
		}
		var lbls any
		switch {
		case o.ref.Kind == "Pod" && o.ref.APIVersion == "v1":
			lbls, _, _ = unstructured.NestedFieldNoCopy(o.raw, "metadata", "labels")
		default:
			for _, path := range [][]string{{"spec", "template", "metadata", "labels"}, {"spec", "jobTemplate", "spec", "template", "metadata", "labels"}} {
				if v, found, _ := unstructured.NestedFieldNoCopy(o.raw, path...); found {
					lbls = v
					break
				}
			}
		}
		m, ok := lbls.(map[string]any)
		if !ok {
			continue
		}
		set := labels.Set{}
		for k, v := range m {
			set[k] = fmt.Sprint(v)
		}
		out = append(out, podSource{obj: o, labels: set})
	}
	return out
}

// closestPods names the pod source whose labels share the most pairs with
// want, as a hint for typos ("; closest: Deployment/web with app=web").
func closestPods(sources []podSource, ns string, want map[string]string) string {
	best, bestScore := podSource{}, 0
	for _, p := range sources {
		if p.obj.ref.Namespace != ns {
			continue
		}
		score := 0
		for k, v := range want {
			if p.labels[k] == v {
				score += 2
			} else if p.labels.Has(k) {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = p, score
		}
	}
	if bestScore == 0 {
		return ""
	}
	return fmt.Sprintf("; closest: %s with %s", best.obj.ref, best.labels)
}

// checkDuplicates is SD122: two objects of one render with the same API group,
// kind, namespace (for namespaced kinds) and name.
func (c *cellRun) checkDuplicates() {
	clusterScoped := c.clusterScopedKinds()
	first := map[string]*object{}
	for _, o := range c.objects {
		if o.ref.Name == "" {
			continue
		}
		gk := groupOf(o.ref.APIVersion) + "/" + o.ref.Kind
		ns := o.ref.Namespace
		if clusterScoped[gk] {
			ns = ""
		}
		k := gk + "\x00" + ns + "\x00" + o.ref.Name
		prev, seen := first[k]
		if !seen {
			first[k] = o
			continue
		}
		if prev.hook() && o.hook() && !sharesHookEvent(prev, o) {
			continue
		}
		scope := "namespace " + ns
		if ns == "" {
			scope = "the cluster"
		}
		c.add(RuleDuplicateObject, o, "metadata.name", fmt.Sprintf("%s %q in %s is rendered twice: also by %s; Helm refuses the release",
			o.ref.Kind, o.ref.Name, scope, prev.where()))
	}
}

// sharesHookEvent reports whether two hooks run at a common hook event.
func sharesHookEvent(a, b *object) bool {
	events := func(o *object) []string {
		var out []string
		for e := range strings.SplitSeq(o.annotations[hookAnnotation], ",") {
			out = append(out, strings.TrimSpace(e))
		}
		return out
	}
	be := events(b)
	return slices.ContainsFunc(events(a), func(e string) bool { return slices.Contains(be, e) })
}

// clusterScopedKinds returns "group/Kind" of the built-in cluster-scoped kinds
// and of the cluster-scoped custom resources whose CRD the chart renders.
func (c *cellRun) clusterScopedKinds() map[string]bool {
	out := map[string]bool{}
	for _, gk := range []string{
		"/Namespace", "/Node", "/PersistentVolume", "/ComponentStatus",
		"rbac.authorization.k8s.io/ClusterRole", "rbac.authorization.k8s.io/ClusterRoleBinding",
		"apiextensions.k8s.io/CustomResourceDefinition", "apiregistration.k8s.io/APIService",
		"storage.k8s.io/StorageClass", "storage.k8s.io/CSIDriver", "storage.k8s.io/CSINode", "storage.k8s.io/VolumeAttachment",
		"storage.k8s.io/VolumeAttributesClass", "scheduling.k8s.io/PriorityClass", "node.k8s.io/RuntimeClass",
		"networking.k8s.io/IngressClass", "networking.k8s.io/IPAddress", "networking.k8s.io/ServiceCIDR",
		"admissionregistration.k8s.io/ValidatingWebhookConfiguration", "admissionregistration.k8s.io/MutatingWebhookConfiguration",
		"admissionregistration.k8s.io/ValidatingAdmissionPolicy", "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
		"admissionregistration.k8s.io/MutatingAdmissionPolicy", "admissionregistration.k8s.io/MutatingAdmissionPolicyBinding",
		"flowcontrol.apiserver.k8s.io/FlowSchema", "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
		"certificates.k8s.io/CertificateSigningRequest", "certificates.k8s.io/ClusterTrustBundle",
		"resource.k8s.io/DeviceClass", "policy/PodSecurityPolicy",
	} {
		out[gk] = true
	}
	for _, o := range c.objects {
		if o.ref.Kind != "CustomResourceDefinition" || groupOf(o.ref.APIVersion) != "apiextensions.k8s.io" {
			continue
		}
		spec, _ := o.raw["spec"].(map[string]any)
		names, _ := spec["names"].(map[string]any)
		if g, _ := spec["group"].(string); spec["scope"] == "Cluster" && g != "" {
			if k, _ := names["kind"].(string); k != "" {
				out[g+"/"+k] = true
			}
		}
	}
	return out
}
