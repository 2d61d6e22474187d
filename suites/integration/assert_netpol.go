package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// NetworkPoliciesSelectEveryPod checks that every running pod in the
// namespace is selected by NetworkPolicies for both Ingress and Egress, so no
// pod is left with open traffic.
func NetworkPoliciesSelectEveryPod(ctx context.Context, c kubernetes.Interface, namespace string) error {
	p := &problems{check: "NetworkPoliciesSelectEveryPod", namespace: namespace}
	pods, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("NetworkPoliciesSelectEveryPod: list Pods in %s: %w", namespace, err)
	}
	pols, err := c.NetworkingV1().NetworkPolicies(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("NetworkPoliciesSelectEveryPod: list NetworkPolicies in %s: %w", namespace, err)
	}
	for _, pod := range pods.Items {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil {
			continue
		}
		var ingress, egress bool
		for _, np := range pols.Items {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil {
				p.addf("NetworkPolicy %s/%s has an invalid podSelector: %v (fix: correct spec.podSelector)", namespace, np.Name, err)
				continue
			}
			if !sel.Matches(labels.Set(pod.Labels)) {
				continue
			}
			types := policyTypes(np)
			ingress = ingress || slices.Contains(types, networkingv1.PolicyTypeIngress)
			egress = egress || slices.Contains(types, networkingv1.PolicyTypeEgress)
		}
		var missing []string
		if !ingress {
			missing = append(missing, "Ingress")
		}
		if !egress {
			missing = append(missing, "Egress")
		}
		if len(missing) > 0 {
			p.addf("Pod %s/%s (labels %s) is selected by no NetworkPolicy for %s (fix: add a NetworkPolicy whose podSelector matches it with policyTypes [%s])",
				namespace, pod.Name, labels.Set(pod.Labels).String(), strings.Join(missing, ", "), strings.Join(missing, ", "))
		}
	}
	return p.err()
}

// policyTypes are the policy's types, defaulted the way the API does:
// Ingress always, Egress when it has egress rules.
func policyTypes(np networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(np.Spec.PolicyTypes) > 0 {
		return np.Spec.PolicyTypes
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(np.Spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return types
}
