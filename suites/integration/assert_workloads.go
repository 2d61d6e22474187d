package integration

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// MaxRestarts is how many restarts of one container WorkloadsReady tolerates.
const MaxRestarts = 1

// WorkloadsReady checks that every Deployment, StatefulSet and DaemonSet in
// the namespace has all replicas updated and ready, that no container has
// restarted more than once, and that every Job succeeded.
func WorkloadsReady(ctx context.Context, c kubernetes.Interface, namespace string) error {
	p := &problems{check: "WorkloadsReady", namespace: namespace}
	if err := deploymentsReady(ctx, c, namespace, p); err != nil {
		return err
	}
	if err := statefulSetsReady(ctx, c, namespace, p); err != nil {
		return err
	}
	if err := daemonSetsReady(ctx, c, namespace, p); err != nil {
		return err
	}
	if err := jobsSucceeded(ctx, c, namespace, p); err != nil {
		return err
	}
	if err := containersStable(ctx, c, namespace, p); err != nil {
		return err
	}
	return p.err()
}

func deploymentsReady(ctx context.Context, c kubernetes.Interface, ns string, p *problems) error {
	list, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("WorkloadsReady: list Deployments in %s: %w", ns, err)
	}
	for _, d := range list.Items {
		want := replicas(d.Spec.Replicas)
		s := d.Status
		switch {
		case s.ObservedGeneration < d.Generation:
			p.addf("Deployment %s/%s: controller has not observed generation %d yet (fix: check kube-controller-manager is running)", ns, d.Name, d.Generation)
		case s.UpdatedReplicas < want || s.ReadyReplicas < want || s.AvailableReplicas < want:
			p.addf("Deployment %s/%s: %d/%d replicas ready, %d updated, %d available (fix: kubectl -n %s describe deployment %s; check its pods' events, image and readiness probe)",
				ns, d.Name, s.ReadyReplicas, want, s.UpdatedReplicas, s.AvailableReplicas, ns, d.Name)
		}
	}
	return nil
}

func statefulSetsReady(ctx context.Context, c kubernetes.Interface, ns string, p *problems) error {
	list, err := c.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("WorkloadsReady: list StatefulSets in %s: %w", ns, err)
	}
	for _, s := range list.Items {
		want := replicas(s.Spec.Replicas)
		st := s.Status
		switch {
		case st.ObservedGeneration < s.Generation:
			p.addf("StatefulSet %s/%s: controller has not observed generation %d yet (fix: check kube-controller-manager is running)", ns, s.Name, s.Generation)
		case st.ReadyReplicas < want:
			p.addf("StatefulSet %s/%s: %d/%d replicas ready (fix: kubectl -n %s describe statefulset %s; check PVCs are Bound and pods' events and readiness probes)",
				ns, s.Name, st.ReadyReplicas, want, ns, s.Name)
		case s.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType && st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision:
			p.addf("StatefulSet %s/%s: rollout of revision %s not finished (current %s, %d updated) (fix: kubectl -n %s rollout status statefulset %s)",
				ns, s.Name, st.UpdateRevision, st.CurrentRevision, st.UpdatedReplicas, ns, s.Name)
		}
	}
	return nil
}

func daemonSetsReady(ctx context.Context, c kubernetes.Interface, ns string, p *problems) error {
	list, err := c.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("WorkloadsReady: list DaemonSets in %s: %w", ns, err)
	}
	for _, d := range list.Items {
		s := d.Status
		if s.ObservedGeneration < d.Generation || s.NumberReady < s.DesiredNumberScheduled || s.UpdatedNumberScheduled < s.DesiredNumberScheduled {
			p.addf("DaemonSet %s/%s: %d/%d pods ready, %d updated (fix: kubectl -n %s describe daemonset %s; check node selectors, tolerations and readiness probes)",
				ns, d.Name, s.NumberReady, s.DesiredNumberScheduled, s.UpdatedNumberScheduled, ns, d.Name)
		}
	}
	return nil
}

func jobsSucceeded(ctx context.Context, c kubernetes.Interface, ns string, p *problems) error {
	list, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("WorkloadsReady: list Jobs in %s: %w", ns, err)
	}
	for _, j := range list.Items {
		switch {
		case jobCondition(j, batchv1.JobFailed):
			p.addf("Job %s/%s failed (fix: kubectl -n %s logs job/%s)", ns, j.Name, ns, j.Name)
		case !jobCondition(j, batchv1.JobComplete):
			p.addf("Job %s/%s has not succeeded: %d active, %d succeeded (fix: kubectl -n %s describe job %s)", ns, j.Name, j.Status.Active, j.Status.Succeeded, ns, j.Name)
		}
	}
	return nil
}

func containersStable(ctx context.Context, c kubernetes.Interface, ns string, p *problems) error {
	list, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("WorkloadsReady: list Pods in %s: %w", ns, err)
	}
	for _, pod := range list.Items {
		statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
		for _, cs := range statuses {
			if cs.RestartCount > MaxRestarts {
				p.addf("Pod %s/%s: container %s restarted %d times (fix: kubectl -n %s logs %s -c %s --previous; check its liveness probe and resources)",
					ns, pod.Name, cs.Name, cs.RestartCount, ns, pod.Name, cs.Name)
			}
		}
	}
	return nil
}

func jobCondition(j batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// replicas is a spec's replica count, defaulting to 1 like the API server.
func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
