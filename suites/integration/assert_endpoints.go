package integration

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// ServicesHaveEndpoints checks that every Service in the namespace with a
// selector has at least one ready endpoint in its EndpointSlices.
func ServicesHaveEndpoints(ctx context.Context, c kubernetes.Interface, namespace string) error {
	p := &problems{check: "ServicesHaveEndpoints", namespace: namespace}
	svcs, err := c.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("ServicesHaveEndpoints: list Services in %s: %w", namespace, err)
	}
	for _, s := range svcs.Items {
		if s.Spec.Type == corev1.ServiceTypeExternalName || len(s.Spec.Selector) == 0 {
			continue
		}
		slices, err := c.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + s.Name,
		})
		if err != nil {
			return fmt.Errorf("ServicesHaveEndpoints: list EndpointSlices of Service %s/%s: %w", namespace, s.Name, err)
		}
		if readyEndpoints(slices.Items, s.Spec.PublishNotReadyAddresses) == 0 {
			sel := labels.SelectorFromSet(s.Spec.Selector).String()
			p.addf("Service %s/%s has no ready endpoint in %d EndpointSlice(s) (fix: check pods matching %q exist, are Ready and expose the target port: kubectl -n %s get pods -l %s)",
				namespace, s.Name, len(slices.Items), sel, namespace, sel)
		}
	}
	return p.err()
}

// readyEndpoints counts endpoints that are ready (or any, when the Service
// publishes not-ready addresses).
func readyEndpoints(slices []discoveryv1.EndpointSlice, publishNotReady bool) int {
	n := 0
	for _, sl := range slices {
		for _, ep := range sl.Endpoints {
			if publishNotReady || ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n
}
