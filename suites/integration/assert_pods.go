package integration

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PodsReady checks that every pod in the namespace that is not finished is
// Ready, naming the condition that holds each one back (unschedulable,
// probe failing, image pull, ...).
func PodsReady(ctx context.Context, c kubernetes.Interface, namespace string) error {
	p := &problems{check: "PodsReady", namespace: namespace}
	pods, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("PodsReady: list Pods in %s: %w", namespace, err)
	}
	for _, pod := range pods.Items {
		if pod.Status.Phase == corev1.PodSucceeded || pod.DeletionTimestamp != nil {
			continue
		}
		if why, ok := podNotReady(pod); ok {
			p.addf("Pod %s/%s is %s: %s (fix: kubectl -n %s describe pod %s)", namespace, pod.Name, pod.Status.Phase, why, namespace, pod.Name)
		}
	}
	return p.err()
}

// podNotReady explains why a pod is not Ready; ok is false when it is.
func podNotReady(pod corev1.Pod) (string, bool) {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("container %s waiting: %s %s", cs.Name, w.Reason, w.Message), true
		}
	}
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.ContainersReady, corev1.PodReady} {
		for _, cond := range pod.Status.Conditions {
			if cond.Type == t && cond.Status != corev1.ConditionTrue {
				return fmt.Sprintf("%s=%s %s %s", cond.Type, cond.Status, cond.Reason, cond.Message), true
			}
		}
	}
	if pod.Status.Phase == corev1.PodFailed {
		return "failed: " + pod.Status.Reason + " " + pod.Status.Message, true
	}
	if len(pod.Status.Conditions) == 0 {
		return "no conditions yet: not scheduled, or waiting for its volumes to bind", true
	}
	return "", false
}
