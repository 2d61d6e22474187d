package lint

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checkServerValidation applies, as SD106, the API server's validation that
// its OpenAPI schema does not express and that charts commonly break, with the
// same apimachinery functions the API server calls: label and annotation
// syntax, container names and port names, volume mounts without a volume,
// requests above limits, Job restart policies, CronJob schedules (parsed
// with robfig/cron, the API server's parser), PodDisruptionBudgets with both
// bounds, HPAs whose maximum is below their minimum, Services with a port twice.
func (c *cellRun) checkServerValidation() {
	for _, o := range c.objects {
		c.report(o, metadataErrors(o))
		switch t := o.typed.(type) {
		case *corev1.Service:
			c.report(o, servicePortErrors(t))
		case *policyv1.PodDisruptionBudget:
			if t.Spec.MinAvailable != nil && t.Spec.MaxUnavailable != nil {
				c.report(o, field.ErrorList{field.Invalid(field.NewPath("spec"), "minAvailable and maxUnavailable", "minAvailable and maxUnavailable cannot be both set")})
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if t.Spec.MinReplicas != nil && t.Spec.MaxReplicas < *t.Spec.MinReplicas {
				c.report(o, field.ErrorList{field.Invalid(field.NewPath("spec", "maxReplicas"), t.Spec.MaxReplicas, "must be greater than or equal to `minReplicas`")})
			}
		case *batchv1.CronJob:
			if _, err := cron.ParseStandard(t.Spec.Schedule); err != nil {
				c.report(o, field.ErrorList{field.Invalid(field.NewPath("spec", "schedule"), t.Spec.Schedule, err.Error())})
			}
		}
		if w, ok := workloadOf(o); ok {
			c.report(o, podSpecErrors(w))
		}
	}
}

// report records field errors as SD106 findings of o.
func (c *cellRun) report(o *object, errs field.ErrorList) {
	for _, e := range errs {
		c.add(RuleSchema, o, e.Field, fmt.Sprintf("%s: %s", o.where(), e.Error()))
	}
}

// metadataErrors checks the labels and annotations of o and of its pod template.
func metadataErrors(o *object) field.ErrorList {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	errs = append(errs, metav1validation.ValidateLabels(o.labels, meta.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(o.annotations, meta.Child("annotations"))...)
	if w, ok := workloadOf(o); ok && w.specPath != "spec" {
		tmpl := fieldPath(strings.TrimSuffix(w.specPath, ".spec")).Child("metadata", "labels")
		errs = append(errs, metav1validation.ValidateLabels(w.podLabels, tmpl)...)
	}
	return errs
}

// podSpecErrors checks a workload's containers.
func podSpecErrors(w workload) field.ErrorList {
	var errs field.ErrorList
	spec := fieldPath(w.specPath)
	volumes := map[string]bool{}
	for _, v := range w.spec.Volumes {
		volumes[v.Name] = true
	}
	claims := map[string]bool{}
	for _, t := range w.claims {
		claims[t.Name] = true
	}
	names := map[string]bool{}
	for _, ct := range w.containers() {
		p := fieldPath(ct.path)
		if problems := validation.IsDNS1123Label(ct.c.Name); len(problems) > 0 {
			errs = append(errs, field.Invalid(p.Child("name"), ct.c.Name, strings.Join(problems, "; ")))
		} else if names[ct.c.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), ct.c.Name))
		}
		names[ct.c.Name] = true
		for i, port := range ct.c.Ports {
			if port.Name == "" {
				continue
			}
			if problems := validation.IsValidPortName(port.Name); len(problems) > 0 {
				errs = append(errs, field.Invalid(p.Child("ports").Index(i).Child("name"), port.Name, strings.Join(problems, "; ")))
			}
		}
		for i, m := range ct.c.VolumeMounts {
			if !volumes[m.Name] && !claims[m.Name] {
				errs = append(errs, field.NotFound(p.Child("volumeMounts").Index(i).Child("name"), m.Name))
			}
		}
		for name, req := range ct.c.Resources.Requests {
			if limit, ok := ct.c.Resources.Limits[name]; ok && req.Cmp(limit) > 0 {
				errs = append(errs, field.Invalid(p.Child("resources", "requests").Key(string(name)), req.String(),
					fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
			}
		}
	}
	if (w.obj.ref.Kind == "Job" || w.obj.ref.Kind == "CronJob") && w.spec.RestartPolicy == corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(spec.Child("restartPolicy"), w.spec.RestartPolicy, []string{string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}))
	}
	return errs
}

// servicePortErrors finds a Service port given twice (same port and protocol).
func servicePortErrors(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, p := range svc.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		k := fmt.Sprintf("%d/%s", p.Port, proto)
		if seen[k] {
			errs = append(errs, field.Duplicate(field.NewPath("spec", "ports").Index(i), k))
		}
		seen[k] = true
	}
	return errs
}

// fieldPath turns "spec.template.spec.containers[0]" into a field.Path.
func fieldPath(p string) *field.Path {
	var out *field.Path
	for part := range strings.SplitSeq(p, ".") {
		name, idx, indexed := strings.Cut(part, "[")
		if out == nil {
			out = field.NewPath(name)
		} else {
			out = out.Child(name)
		}
		if indexed {
			var i int
			fmt.Sscanf(strings.TrimSuffix(idx, "]"), "%d", &i)
			out = out.Index(i)
		}
	}
	return out
}
