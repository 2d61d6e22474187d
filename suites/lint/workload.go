package lint

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// workload is an object that makes pods, reduced to what the policy rules read.
type workload struct {
	obj *object
	// spec is the pod spec and specPath its field path in the object.
	spec     *corev1.PodSpec
	specPath string
	// podLabels are the labels the pods get.
	podLabels map[string]string
	// replicas is the desired replica count; -1 when the kind has no replicas field.
	replicas int32
	// longRunning is false for run-to-completion pods (Jobs, CronJobs, hooks).
	longRunning bool
	// claims are a StatefulSet's volumeClaimTemplates.
	claims []corev1.PersistentVolumeClaim
}

// workloadOf returns the workload view of a decoded object.
func workloadOf(o *object) (workload, bool) {
	w := workload{obj: o, replicas: -1, longRunning: !o.hook(), specPath: "spec.template.spec"}
	switch t := o.typed.(type) {
	case *appsv1.Deployment:
		w.spec, w.podLabels, w.replicas = &t.Spec.Template.Spec, t.Spec.Template.Labels, replicas(t.Spec.Replicas)
	case *appsv1.StatefulSet:
		w.spec, w.podLabels, w.replicas = &t.Spec.Template.Spec, t.Spec.Template.Labels, replicas(t.Spec.Replicas)
		w.claims = t.Spec.VolumeClaimTemplates
	case *appsv1.ReplicaSet:
		w.spec, w.podLabels, w.replicas = &t.Spec.Template.Spec, t.Spec.Template.Labels, replicas(t.Spec.Replicas)
	case *corev1.ReplicationController:
		if t.Spec.Template == nil {
			return w, false
		}
		w.spec, w.podLabels, w.replicas = &t.Spec.Template.Spec, t.Spec.Template.Labels, replicas(t.Spec.Replicas)
	case *appsv1.DaemonSet:
		w.spec, w.podLabels = &t.Spec.Template.Spec, t.Spec.Template.Labels
	case *batchv1.Job:
		w.spec, w.podLabels, w.longRunning = &t.Spec.Template.Spec, t.Spec.Template.Labels, false
	case *batchv1.CronJob:
		w.spec, w.podLabels, w.longRunning = &t.Spec.JobTemplate.Spec.Template.Spec, t.Spec.JobTemplate.Spec.Template.Labels, false
		w.specPath = "spec.jobTemplate.spec.template.spec"
	case *corev1.Pod:
		w.spec, w.podLabels, w.specPath = &t.Spec, o.labels, "spec"
		if t.Spec.RestartPolicy == corev1.RestartPolicyNever || t.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
			w.longRunning = false
		}
	default:
		return w, false
	}
	return w, true
}

// replicas returns the replica count, defaulting to 1 like the API server.
func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// workloads returns the cell's workloads in render order.
func (c *cellRun) workloads() []workload {
	var out []workload
	for _, o := range c.objects {
		if w, ok := workloadOf(o); ok {
			out = append(out, w)
		}
	}
	return out
}

// container is one container of a pod spec with its field path.
type container struct {
	c     *corev1.Container
	path  string
	label string // e.g. `container "web"` or `init container "migrate"`
	init  bool
}

// containers lists init containers, then containers.
func (w workload) containers() []container {
	var out []container
	for i := range w.spec.InitContainers {
		ct := &w.spec.InitContainers[i]
		out = append(out, container{c: ct, path: fieldIndex(w.specPath+".initContainers", i), label: `init container "` + ct.Name + `"`, init: true})
	}
	for i := range w.spec.Containers {
		ct := &w.spec.Containers[i]
		out = append(out, container{c: ct, path: fieldIndex(w.specPath+".containers", i), label: `container "` + ct.Name + `"`})
	}
	return out
}
