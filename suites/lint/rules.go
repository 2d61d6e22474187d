package lint

import "sort"

// Rule describes one check with a stable ID.
type Rule struct {
	// ID is stable across releases, e.g. "SD006".
	ID string `json:"id"`
	// Title says what the rule wants.
	Title string `json:"title"`
	// Severity is the severity of an unwaived finding.
	Severity Severity `json:"severity"`
	// Fix says how to satisfy the rule.
	Fix string `json:"fix"`
	// Waivable tells whether the shakedown.dev/waive annotation can downgrade it.
	Waivable bool `json:"waivable"`
	// Scope says which objects the rule judges and which it exempts, and why.
	Scope string `json:"scope,omitempty"`
}

// Rule IDs.
const (
	RuleResources        = "SD001"
	RuleProbes           = "SD002"
	RuleRunAsNonRoot     = "SD003"
	RuleReadOnlyRootFS   = "SD004"
	RuleNoPrivEscalation = "SD005"
	RulePinnedImage      = "SD006"
	RulePDB              = "SD007"
	RuleNetworkPolicy    = "SD008"
	RuleEncryptedStorage = "SD009"
	RuleHostAccess       = "SD010"

	RuleHelmLint       = "SD100"
	RuleDecode         = "SD101"
	RuleUnknownField   = "SD102"
	RuleDuplicateKey   = "SD103"
	RuleNotSchemaCheck = "SD104"
	RuleRender         = "SD105"
	RuleSchema         = "SD106"
	RuleAPIRemoved     = "SD110"
	RuleAPIDeprecated  = "SD111"
	RuleAPINotYet      = "SD112"

	RuleSelectorMismatch = "SD120"
	RuleServiceNoPods    = "SD121"
	RuleDuplicateObject  = "SD122"
)

// ruleScopes says, per rule, which objects it judges and what it exempts.
func ruleScopes() map[string]string {
	return map[string]string{
		RuleResources:        "every container and init container of every pod-making object (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, Pod), hooks and helm test pods included",
		RuleProbes:           "containers of long-running pods only: Jobs, CronJobs, hooks, helm test pods, Pods with restartPolicy Never/OnFailure and init containers are exempt, as they run to completion",
		RuleRunAsNonRoot:     "every container and init container; the pod's securityContext counts when the container sets none",
		RuleReadOnlyRootFS:   "every container and init container",
		RuleNoPrivEscalation: "every container and init container",
		RulePinnedImage:      "every container and init container image",
		RulePDB:              "workloads with replicas > 1, counting an HPA's minReplicas; hooks are exempt",
		RuleNetworkPolicy:    "every pod-making object, hooks and helm test pods included",
		RuleEncryptedStorage: "PersistentVolumeClaims and volumeClaimTemplates, only on clouds of data/storage.yaml (those that can encrypt volumes at rest)",
		RuleHostAccess:       "every pod; adding the capability NET_BIND_SERVICE is exempt (it only lets a non-root process bind ports below 1024)",
		RuleHelmLint:         "helm lint's own deprecated-API warnings are left to SD110/SD111, which report them with the replacement",
		RuleDecode:           "built-in kinds, decoded into the k8s.io/api types",
		RuleUnknownField:     "built-in kinds against the OpenAPI schema of each Kubernetes version (a field newer than the cluster is unknown there), and custom resources whose CRD the chart ships",
		RuleSchema:           "built-in kinds against the OpenAPI schema of each Kubernetes version, plus the API server's own checks that schema does not express (names, labels and annotations, container and port names, volume mounts without a volume, requests above limits, Job restart policies, CronJob schedules, PDBs with both bounds, HPAs with max below min, Service ports given twice, Services without ports); custom resources against the openAPIV3Schema of a CRD the chart ships (crds/ or templates), without its x-kubernetes-validations (CEL) rules, which are not evaluated",
		RuleNotSchemaCheck:   "custom resources whose CRD the chart does not ship",
		RuleAPIRemoved:       "apiVersions of data/apis.yaml, and of the client library's beta types by their prerelease lifecycle, on the versions that no longer serve them",
		RuleAPIDeprecated:    "the same sources, on versions that deprecate but still serve the apiVersion",
		RuleRender:           "every cell: a template error, a failed required or a values schema violation stops that cell's render",
		RuleDuplicateKey:     "every rendered document, at the YAML level and in the decoded object",
		RuleAPINotYet:        "the message names the apiVersion that Kubernetes version serves instead, when there is one",
		RuleSelectorMismatch: "Deployment, StatefulSet, DaemonSet, ReplicaSet (selector required), ReplicationController and Job with manualSelector (selector given)",
		RuleServiceNoPods:    "Services with a selector; Services without one (ExternalName, hand-made Endpoints) are exempt; pods of other charts cannot be seen, so waive with a reason when the Service selects them on purpose",
		RuleDuplicateObject:  "objects with the same API group, kind, namespace and name in one render; hooks of different hook events are exempt, as Helm creates them at different times",
	}
}

// Rules returns the catalog of every rule, sorted by ID.
func Rules() []Rule {
	rules := []Rule{
		{RuleResources, "containers set resource requests (cpu, memory) and a memory limit", SeverityError,
			"set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every container", true, ""},
		{RuleProbes, "long-running containers have liveness and readiness probes", SeverityError,
			"add livenessProbe and readinessProbe (httpGet, tcpSocket, grpc or exec) to the container", true, ""},
		{RuleRunAsNonRoot, "containers run as a non-root user", SeverityError,
			"set securityContext.runAsNonRoot: true (pod or container) and a non-zero runAsUser", true, ""},
		{RuleReadOnlyRootFS, "containers have a read-only root filesystem", SeverityError,
			"set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process writes", true, ""},
		{RuleNoPrivEscalation, "containers forbid privilege escalation", SeverityError,
			"set securityContext.allowPrivilegeEscalation: false on the container", true, ""},
		{RulePinnedImage, "images are pinned to a version tag or digest", SeverityError,
			"use an explicit version tag (repo/app:1.2.3) or a digest (repo/app@sha256:...), never latest or no tag", true, ""},
		{RulePDB, "workloads with more than one replica have a PodDisruptionBudget", SeverityError,
			"render a policy/v1 PodDisruptionBudget whose selector matches the pod template labels", true, ""},
		{RuleNetworkPolicy, "every pod is selected by a NetworkPolicy", SeverityError,
			"render a NetworkPolicy whose podSelector matches the pod template labels", true, ""},
		{RuleEncryptedStorage, "persistent volumes use an encrypted storage class on clouds that support it", SeverityError,
			"set storageClassName to a class that encrypts at rest (aws: a StorageClass with parameters.encrypted: \"true\")", true, ""},
		{RuleHostAccess, "pods do not use hostPath, host namespaces, host ports, privileged mode or extra capabilities", SeverityError,
			"remove hostPath volumes, hostNetwork/hostPID/hostIPC, hostPort, privileged: true and added capabilities", true, ""},

		{RuleHelmLint, "strict helm lint passes", SeverityError,
			"fix what helm lint reports (in strict mode its warnings are errors)", false, ""},
		{RuleDecode, "every rendered object decodes into its Kubernetes kind", SeverityError,
			"correct the field's type or the kind/apiVersion so the object matches the Kubernetes API", false, ""},
		{RuleUnknownField, "rendered objects have no unknown fields", SeverityError,
			"remove or correct the field: the API server drops or rejects unknown fields", false, ""},
		{RuleDuplicateKey, "rendered objects have no duplicate keys", SeverityError,
			"remove the duplicated key from the template: only one of the values would be kept", false, ""},
		{RuleNotSchemaCheck, "objects of kinds without a known schema are listed", SeverityNotice,
			"nothing to do; check the object against its CRD by hand or in the integration layer", false, ""},
		{RuleRender, "the chart renders for every cloud overlay and Kubernetes version", SeverityError,
			"fix the template or the overlay values named in the message", false, ""},
		{RuleSchema, "rendered objects satisfy the schema of their Kubernetes version: required fields, enums, formats, types", SeverityError,
			"set or correct the field named in the message: the API server refuses the object", false, ""},
		{RuleAPIRemoved, "no apiVersion that the Kubernetes version no longer serves", SeverityError,
			"switch to the replacement apiVersion named in the message", false, ""},
		{RuleAPIDeprecated, "no deprecated apiVersion", SeverityWarning,
			"switch to the replacement apiVersion named in the message before it is removed", true, ""},
		{RuleAPINotYet, "no apiVersion that the Kubernetes version does not serve yet", SeverityError,
			"gate the object with .Capabilities.APIVersions.Has or use the older apiVersion named in the message", false, ""},

		{RuleSelectorMismatch, "a workload's selector matches its pod template labels", SeverityError,
			"make spec.selector match spec.template.metadata.labels: the API server refuses the object", false, ""},
		{RuleServiceNoPods, "a Service with a selector selects pods of the release", SeverityWarning,
			"make the Service's spec.selector a subset of a pod template's labels in the same namespace", true, ""},
		{RuleDuplicateObject, "no two objects of one render share group, kind, namespace and name", SeverityError,
			"rename one of them or render only one: Helm refuses the release, or the later object overwrites the first", false, ""},
	}
	scopes := ruleScopes()
	for i := range rules {
		rules[i].Scope = scopes[rules[i].ID]
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules
}

// ruleIndex maps rule IDs to rules.
func ruleIndex() map[string]Rule {
	idx := make(map[string]Rule)
	for _, r := range Rules() {
		idx[r.ID] = r
	}
	return idx
}
