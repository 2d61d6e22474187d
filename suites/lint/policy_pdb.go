package lint

import (
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/labels"
)

// checkPDBs is SD007: a workload that runs more than one replica (by its
// replicas field or an HPA's minReplicas) has a PodDisruptionBudget selecting its pods.
func (c *cellRun) checkPDBs() {
	pdbs := c.selectorsOf("policy", "PodDisruptionBudget", "spec", "selector")
	minReplicas := c.hpaMinReplicas()
	for _, w := range c.workloads() {
		n := max(w.replicas, minReplicas[w.obj.ref.Kind+"/"+w.obj.ref.Name])
		if n <= 1 || w.obj.hook() {
			continue
		}
		if len(matching(pdbs, w.obj.ref.Namespace, w.podLabels)) == 0 {
			c.add(RulePDB, w.obj, "", fmt.Sprintf("%s runs %d replicas but no PodDisruptionBudget selects its pods (labels %s)",
				w.obj.ref, n, labels.Set(w.podLabels)))
		}
	}
}

// hpaMinReplicas maps "Kind/name" of HPA targets to their minReplicas.
func (c *cellRun) hpaMinReplicas() map[string]int32 {
	out := map[string]int32{}
	for _, o := range c.objects {
		switch h := o.typed.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			out[h.Spec.ScaleTargetRef.Kind+"/"+h.Spec.ScaleTargetRef.Name] = replicas(h.Spec.MinReplicas)
		case *autoscalingv1.HorizontalPodAutoscaler:
			out[h.Spec.ScaleTargetRef.Kind+"/"+h.Spec.ScaleTargetRef.Name] = replicas(h.Spec.MinReplicas)
		}
	}
	return out
}
