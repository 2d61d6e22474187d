package unit

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// checkAssert runs one assertion (written as in a test suite) against one
// manifest the way the runner does, `not` and antonyms included.
func checkAssert(t *testing.T, manifest, assert string) (bool, string) {
	t.Helper()
	var a assertion
	if err := yaml.Unmarshal([]byte(assert), &a); err != nil {
		t.Fatalf("assertion %q: %v", assert, err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(manifest), &n); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	var obj map[string]any
	if err := n.Decode(&obj); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	d := &document{node: n.Content[0], obj: obj}
	c := &vctx{template: "t.yaml", docs: []*document{d}, selected: []*document{d}, negative: a.Not != a.def.antonym}
	ok, info := a.def.validate(&a, c)
	return ok, strings.Join(info, "\n")
}

const valueManifest = `
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    tier: front
spec:
  replicas: 2
  ratio: 1.5
  template:
    metadata:
      labels:
        app: web
        tier: front
  containers:
    - name: app
      args: []
      resources:
        limits:
          cpu: 500m
          memory: 256Mi
        requests:
          cpu: "1"
      securityContext:
        capabilities:
          drop: [ALL]
        readOnlyRootFilesystem: true
`

func TestValueValidatorsMatchHelmUnittest(t *testing.T) {
	tests := []struct {
		name   string
		assert string
		pass   bool
		info   string // a substring of the failure details, when failing
	}{
		// isSubset and contains(any) compare each key of content with the
		// actual key as a whole (helm-unittest's validateSubset), no recursion.
		{"isSubset whole nested value", `{isSubset: {path: spec.template, content: {metadata: {labels: {app: web, tier: front}}}}}`, true, ""},
		{"isSubset partial nested map", `{isSubset: {path: spec.template, content: {metadata: {labels: {app: web}}}}}`, false, "Expected to contain"},
		{"isNotSubset partial nested map", `{isNotSubset: {path: spec.template, content: {metadata: {labels: {app: web}}}}}`, true, ""},
		{"isSubset partial nested map under a list owner", `{isSubset: {path: "spec.containers[0].securityContext", content: {capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true}}}`, true, ""},
		{"isSubset top-level keys", `{isSubset: {path: metadata.labels, content: {app: web}}}`, true, ""},
		{"isSubset null for a missing key", `{isSubset: {path: metadata.labels, content: {missing: null}}}`, true, ""},
		{"isSubset missing key", `{isSubset: {path: metadata.labels, content: {missing: x}}}`, false, ""},
		{"contains any partial top level", `{contains: {path: spec.containers, content: {name: app}, any: true}}`, true, ""},
		{"contains any partial nested map", `{contains: {path: spec.containers, content: {resources: {limits: {cpu: 500m}}}, any: true}}`, false, ""},
		{"notContains any partial nested map", `{notContains: {path: spec.containers, content: {resources: {limits: {cpu: 500m}}}, any: true}}`, true, ""},

		// isNullOrEmpty / isEmpty on a missing path: the positive form fails
		// with "unknown path", the negated form passes.
		{"isNullOrEmpty missing path", `{isNullOrEmpty: {path: spec.nope}}`, false, "unknown path spec.nope"},
		{"isEmpty missing path", `{isEmpty: {path: spec.nope}}`, false, "unknown path spec.nope"},
		{"isNotNullOrEmpty missing path", `{isNotNullOrEmpty: {path: spec.nope}}`, true, ""},
		{"isNotEmpty missing path", `{isNotEmpty: {path: spec.nope}}`, true, ""},
		{"not isEmpty missing path", `{isEmpty: {path: spec.nope}, not: true}`, true, ""},
		{"isEmpty present empty", `{isEmpty: {path: "spec.containers[0].args"}}`, true, ""},
		{"isNotEmpty present empty", `{isNotEmpty: {path: "spec.containers[0].args"}}`, false, "Expected NOT to be null or empty"},
		{"isNotEmpty present", `{isNotEmpty: {path: metadata.name}}`, true, ""},
		{"isEmpty present", `{isEmpty: {path: metadata.name}}`, false, "Expected to be null or empty"},

		// greaterOrEqual / lessOrEqual: same type required, strings compared
		// as strings (not as quantities), ints with ints, floats with floats.
		{"greaterOrEqual int", `{greaterOrEqual: {path: spec.replicas, value: 2}}`, true, ""},
		{"greaterOrEqual int too big", `{greaterOrEqual: {path: spec.replicas, value: 3}}`, false, "is not greater or equal to the expected '3'"},
		{"lessOrEqual int", `{lessOrEqual: {path: spec.replicas, value: 2}}`, true, ""},
		{"greaterOrEqual float", `{greaterOrEqual: {path: spec.ratio, value: 1.5}}`, true, ""},
		{"lessOrEqual float", `{lessOrEqual: {path: spec.ratio, value: 1.25}}`, false, ""},
		{"greaterOrEqual int with float", `{greaterOrEqual: {path: spec.replicas, value: 1.5}}`, false, "actual 'int' and expected 'float64' types do not match"},
		{"greaterOrEqual float with int", `{greaterOrEqual: {path: spec.ratio, value: 1}}`, false, "types do not match"},
		{"greaterOrEqual string with int", `{greaterOrEqual: {path: "spec.containers[0].resources.requests.cpu", value: 1}}`, false, "actual 'string' and expected 'int' types do not match"},
		{"greaterOrEqual quantity strings compared as strings", `{greaterOrEqual: {path: "spec.containers[0].resources.requests.cpu", value: 500m}}`, false, "the actual '1' is not greater or equal to the expected '500m'"},
		{"lessOrEqual quantity strings compared as strings", `{lessOrEqual: {path: "spec.containers[0].resources.requests.cpu", value: 500m}}`, true, ""},
		{"lessOrEqual 500m vs 1 as strings", `{lessOrEqual: {path: "spec.containers[0].resources.limits.cpu", value: "1"}}`, false, ""},
		{"greaterOrEqual strings", `{greaterOrEqual: {path: "spec.containers[0].resources.limits.memory", value: 128Mi}}`, true, ""},
		{"greaterOrEqual unsupported type", `{greaterOrEqual: {path: "spec.containers[0].securityContext.readOnlyRootFilesystem", value: true}}`, false, "unsupported type 'bool'"},
		{"greaterOrEqual missing path", `{greaterOrEqual: {path: spec.nope, value: 1}}`, false, "unknown path"},
		{"notGreaterOrEqual missing path", `{notGreaterOrEqual: {path: spec.nope, value: 1}}`, true, ""},
		{"notLessOrEqual", `{notLessOrEqual: {path: spec.replicas, value: 1}}`, true, ""},
		{"notLessOrEqual fails", `{notLessOrEqual: {path: spec.replicas, value: 2}}`, false, ""},
		{"notGreaterOrEqual type mismatch still fails", `{notGreaterOrEqual: {path: spec.replicas, value: "9"}}`, false, "types do not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, info := checkAssert(t, valueManifest, tc.assert)
			if ok != tc.pass {
				t.Fatalf("passed=%v, want %v; details:\n%s", ok, tc.pass, info)
			}
			if !tc.pass && tc.info != "" && !strings.Contains(info, tc.info) {
				t.Errorf("details lack %q:\n%s", tc.info, info)
			}
		})
	}
}
