package lint

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/shakedown-dev/shakedown/suites/lint/kubeschema"
)

// checkAPIs judges every object's apiVersion against the cell's Kubernetes
// version with the table of data/apis.yaml (SD110 removed, SD111 deprecated,
// SD112 not served yet). A built-in apiVersion the table does not list is
// judged by the version's OpenAPI spec (spec, nil when none): one the client
// library knows but the version does not serve is SD112, with the apiVersion
// that version serves instead.
func (c *cellRun) checkAPIs(spec *kubeschema.Spec) {
	for _, o := range c.objects {
		if st := c.apis.check(o.ref.APIVersion, o.ref.Kind, c.version); st.rule != "" {
			c.add(st.rule, o, "apiVersion", st.message)
			continue
		}
		if _, listed := c.apis.lookup(o.ref.APIVersion, o.ref.Kind); listed {
			continue
		}
		if st := lifecycleStatus(o, c.version); st.rule != "" {
			c.add(st.rule, o, "apiVersion", st.message)
			continue
		}
		if spec == nil {
			continue
		}
		gvk := schema.FromAPIVersionAndKind(o.ref.APIVersion, o.ref.Kind)
		if !c.scheme.Recognizes(gvk) {
			continue
		}
		if served, err := spec.Serves(o.ref.APIVersion, o.ref.Kind); err != nil || served {
			continue
		}
		msg := fmt.Sprintf("%s %s is not served by Kubernetes %s; ", o.ref.APIVersion, o.ref.Kind, c.version.text)
		if alt := specAlternative(spec, gvk); alt != "" {
			msg += fmt.Sprintf("on %d.%d use %s", c.version.major, c.version.minor, alt)
		} else {
			msg += fmt.Sprintf("Kubernetes %d.%d serves no apiVersion of %s: render the object only where it is served", c.version.major, c.version.minor, o.ref.Kind)
		}
		c.add(RuleAPINotYet, o, "apiVersion", msg)
	}
}

// prereleaseLifecycle is implemented by the beta and alpha types of
// k8s.io/api (zz_generated.prerelease-lifecycle.go), the source Helm and the
// API server's deprecation warnings read.
type prereleaseLifecycle interface {
	APILifecycleDeprecated() (major, minor int)
	APILifecycleRemoved() (major, minor int)
	APILifecycleReplacement() schema.GroupVersionKind
}

// lifecycleStatus judges a typed object of an apiVersion data/apis.yaml does
// not list by its k8s.io/api prerelease lifecycle.
func lifecycleStatus(o *object, v kubeVersion) apiStatus {
	lc, ok := o.typed.(prereleaseLifecycle)
	if !ok {
		return apiStatus{}
	}
	e := apiEntry{APIVersion: o.ref.APIVersion, Kinds: []string{o.ref.Kind}}
	e.deprecated.major, e.deprecated.minor = lc.APILifecycleDeprecated()
	e.removed.major, e.removed.minor = lc.APILifecycleRemoved()
	if r := lc.APILifecycleReplacement(); !r.Empty() {
		e.Replacement = r.GroupVersion().String()
		if r.Kind != o.ref.Kind {
			e.Replacement += " " + r.Kind
		}
	}
	return apiTable{entries: []apiEntry{e}}.check(o.ref.APIVersion, o.ref.Kind, v)
}

// specAlternative returns the most preferred apiVersion of gvk's group that
// serves its kind on the spec's version, alpha versions excluded (clusters do
// not serve them by default); "" when there is none.
func specAlternative(spec *kubeschema.Spec, gvk schema.GroupVersionKind) string {
	alts, err := spec.APIVersionsFor(gvk.Group, gvk.Kind)
	if err != nil {
		return ""
	}
	alts = slices.DeleteFunc(alts, func(a string) bool { return strings.Contains(versionOf(a), "alpha") })
	if len(alts) == 0 {
		return ""
	}
	return alts[0]
}
