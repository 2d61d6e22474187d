package lint

import (
	"testing"
)

func mustVersion(t *testing.T, s string) kubeVersion {
	t.Helper()
	vs, err := parseVersions([]string{s})
	if err != nil {
		t.Fatal(err)
	}
	return vs[0]
}

func TestAPITableNamesRemovalsAndReplacements(t *testing.T) {
	table, err := loadAPITable()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		apiVersion, kind, version, rule, message string
	}{
		{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.34.4", RuleAPIRemoved, "autoscaling/v2beta2 HorizontalPodAutoscaler was removed in Kubernetes 1.26; use autoscaling/v2"},
		{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.25.0", RuleAPIDeprecated, "autoscaling/v2beta2 HorizontalPodAutoscaler is deprecated since Kubernetes 1.23 and will be removed in 1.26; use autoscaling/v2"},
		{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.22.0", "", ""},
		{"extensions/v1beta1", "Ingress", "1.22.0", RuleAPIRemoved, "extensions/v1beta1 Ingress was removed in Kubernetes 1.22; use networking.k8s.io/v1"},
		{"policy/v1beta1", "PodSecurityPolicy", "1.25.0", RuleAPIRemoved, "policy/v1beta1 PodSecurityPolicy was removed in Kubernetes 1.25; use Pod Security Admission (pod-security.kubernetes.io/* labels on the namespace)"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.28.15", RuleAPIRemoved, "policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25; use policy/v1"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.24.0", RuleAPIDeprecated, "policy/v1beta1 PodDisruptionBudget is deprecated since Kubernetes 1.21 and will be removed in 1.25; use policy/v1"},
		{"batch/v1beta1", "CronJob", "1.25.0", RuleAPIRemoved, "batch/v1beta1 CronJob was removed in Kubernetes 1.25; use batch/v1"},
		{"flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "1.29.0", RuleAPIRemoved, "flowcontrol.apiserver.k8s.io/v1beta2 FlowSchema was removed in Kubernetes 1.29; use flowcontrol.apiserver.k8s.io/v1"},
		{"flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration", "1.32.0", RuleAPIRemoved, "flowcontrol.apiserver.k8s.io/v1beta3 PriorityLevelConfiguration was removed in Kubernetes 1.32; use flowcontrol.apiserver.k8s.io/v1"},
		{"flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.30.14", RuleAPIDeprecated, "deprecated since Kubernetes 1.29 and will be removed in 1.32"},
		{"storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.27.0", RuleAPIRemoved, "storage.k8s.io/v1beta1 CSIStorageCapacity was removed in Kubernetes 1.27; use storage.k8s.io/v1"},
		{"autoscaling/v2", "HorizontalPodAutoscaler", "1.22.17", RuleAPINotYet, "autoscaling/v2 HorizontalPodAutoscaler is not served before Kubernetes 1.23 (rendering for 1.22.17); on 1.22 use autoscaling/v2beta2"},
		{"flowcontrol.apiserver.k8s.io/v1", "FlowSchema", "1.28.15", RuleAPINotYet, "not served before Kubernetes 1.29 (rendering for 1.28.15); on 1.28 use flowcontrol.apiserver.k8s.io/v1beta3"},
		{"flowcontrol.apiserver.k8s.io/v1", "FlowSchema", "1.22.17", RuleAPINotYet, "on 1.22 use flowcontrol.apiserver.k8s.io/v1beta1"},
		{"flowcontrol.apiserver.k8s.io/v1", "FlowSchema", "1.19.16", RuleAPINotYet, "Kubernetes 1.19 serves no apiVersion of FlowSchema"},
		{"v1", "Endpoints", "1.34.4", RuleAPIDeprecated, "v1 Endpoints is deprecated since Kubernetes 1.33; use discovery.k8s.io/v1 EndpointSlice"},
		{"apps/v1", "Deployment", "1.34.4", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.apiVersion+"/"+tc.kind+"@"+tc.version, func(t *testing.T) {
			st := table.check(tc.apiVersion, tc.kind, mustVersion(t, tc.version))
			if st.rule != tc.rule {
				t.Fatalf("rule = %q (%s), want %q", st.rule, st.message, tc.rule)
			}
			if tc.message != "" && !contains(st.message, tc.message) {
				t.Errorf("message = %q, want it to contain %q", st.message, tc.message)
			}
		})
	}
}

func TestAPITableEntriesAreOrdered(t *testing.T) {
	table, err := loadAPITable()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range table.entries {
		if len(e.Kinds) == 0 {
			t.Errorf("%s lists no kinds", e.APIVersion)
		}
		// removed.atOrAfter(deprecated) means deprecated >= removed.
		if e.removed.set() && e.deprecated.set() && e.removed.atOrAfter(kubeVersion{major: e.deprecated.major, minor: e.deprecated.minor}) {
			t.Errorf("%s %v: removed in %s, not after its deprecation in %s", e.APIVersion, e.Kinds, e.removed, e.deprecated)
		}
		if e.removed.set() && e.Replacement == "" && e.Note == "" {
			t.Errorf("%s %v: removed without a replacement or note", e.APIVersion, e.Kinds)
		}
	}
}

func TestCapabilitiesPerVersion(t *testing.T) {
	table, err := loadAPITable()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		version string
		has     []string
		hasNot  []string
	}{
		{"1.22.17", []string{"policy/v1", "policy/v1beta1", "policy/v1beta1/PodDisruptionBudget", "autoscaling/v2beta2/HorizontalPodAutoscaler", "apps/v1"},
			[]string{"autoscaling/v2", "flowcontrol.apiserver.k8s.io/v1"}},
		{"1.34.4", []string{"policy/v1", "policy/v1/PodDisruptionBudget", "autoscaling/v2", "flowcontrol.apiserver.k8s.io/v1", "apps/v1", "networking.k8s.io/v1/NetworkPolicy"},
			[]string{"policy/v1beta1", "autoscaling/v2beta2", "flowcontrol.apiserver.k8s.io/v1beta3", "extensions/v1beta1"}},
	}
	for _, tc := range cases {
		v := mustVersion(t, tc.version)
		caps := table.capabilities(v)
		if caps.KubeVersion.Version != "v"+tc.version || caps.KubeVersion.Minor != itoa(v.minor) {
			t.Errorf("KubeVersion = %+v, want v%s", caps.KubeVersion, tc.version)
		}
		for _, a := range tc.has {
			if !caps.APIVersions.Has(a) {
				t.Errorf("%s: APIVersions lacks %s", tc.version, a)
			}
		}
		for _, a := range tc.hasNot {
			if caps.APIVersions.Has(a) {
				t.Errorf("%s: APIVersions has %s, which it does not serve", tc.version, a)
			}
		}
	}
}
