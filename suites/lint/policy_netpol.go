package lint

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
)

// checkNetworkPolicies is SD008: the pods of every workload are selected by a
// NetworkPolicy of the chart in their namespace.
func (c *cellRun) checkNetworkPolicies() {
	policies := c.selectorsOf("networking.k8s.io", "NetworkPolicy", "spec", "podSelector")
	for _, w := range c.workloads() {
		if len(matching(policies, w.obj.ref.Namespace, w.podLabels)) == 0 {
			c.add(RuleNetworkPolicy, w.obj, w.specPath, fmt.Sprintf("no NetworkPolicy selects the pods of %s (labels %s), so their traffic is unrestricted",
				w.obj.ref, labels.Set(w.podLabels)))
		}
	}
}
