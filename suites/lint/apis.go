package lint

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/yaml"
)

//go:embed data/apis.yaml
var apisYAML []byte

// apiEntry is one row of data/apis.yaml.
type apiEntry struct {
	APIVersion  string   `json:"apiVersion"`
	Kinds       []string `json:"kinds"`
	Introduced  string   `json:"introduced,omitempty"`
	Deprecated  string   `json:"deprecated,omitempty"`
	Removed     string   `json:"removed,omitempty"`
	Replacement string   `json:"replacement,omitempty"`
	Note        string   `json:"note,omitempty"`

	introduced, deprecated, removed minor
}

// minor is a Kubernetes MAJOR.MINOR version; the zero value means "unset".
type minor struct{ major, minor int }

func (m minor) set() bool { return m.major != 0 }

// atOrAfter reports whether version v is at or after m.
func (m minor) atOrAfter(v kubeVersion) bool {
	return v.major > m.major || (v.major == m.major && v.minor >= m.minor)
}

func (m minor) String() string { return fmt.Sprintf("%d.%d", m.major, m.minor) }

func parseMinor(s string) (minor, error) {
	if s == "" {
		return minor{}, nil
	}
	var m minor
	if _, err := fmt.Sscanf(s, "%d.%d", &m.major, &m.minor); err != nil {
		return m, fmt.Errorf("version %q is not MAJOR.MINOR: %w", s, err)
	}
	return m, nil
}

// apiTable answers which apiVersions a Kubernetes version serves.
type apiTable struct {
	entries []apiEntry
}

// loadAPITable parses the embedded data/apis.yaml.
func loadAPITable() (apiTable, error) {
	var doc struct {
		APIs []apiEntry `json:"apis"`
	}
	if err := yaml.UnmarshalStrict(apisYAML, &doc); err != nil {
		return apiTable{}, fmt.Errorf("lint: data/apis.yaml: %w", err)
	}
	for i := range doc.APIs {
		e := &doc.APIs[i]
		var err error
		for _, f := range []struct {
			text string
			into *minor
		}{{e.Introduced, &e.introduced}, {e.Deprecated, &e.deprecated}, {e.Removed, &e.removed}} {
			if *f.into, err = parseMinor(f.text); err != nil {
				return apiTable{}, fmt.Errorf("lint: data/apis.yaml entry %s: %w", e.APIVersion, err)
			}
		}
	}
	return apiTable{entries: doc.APIs}, nil
}

// lookup returns the entry for apiVersion and kind.
func (t apiTable) lookup(apiVersion, kind string) (apiEntry, bool) {
	for _, e := range t.entries {
		if e.APIVersion == apiVersion && slices.Contains(e.Kinds, kind) {
			return e, true
		}
	}
	return apiEntry{}, false
}

// served reports whether the entry is served by version v.
func (e apiEntry) served(v kubeVersion) bool {
	if e.introduced.set() && !e.introduced.atOrAfter(v) {
		return false
	}
	return !e.removed.set() || !e.removed.atOrAfter(v)
}

// instead says what to use instead of the entry.
func (e apiEntry) instead() string {
	switch {
	case e.Replacement != "" && e.Note != "":
		return "use " + e.Replacement + "; " + e.Note
	case e.Replacement != "":
		return "use " + e.Replacement
	case e.Note != "":
		return e.Note
	default:
		return "drop the object"
	}
}

// apiStatus is the verdict of the table on one object for one version.
type apiStatus struct {
	rule    string // "" when the apiVersion is fine
	message string
}

// check judges apiVersion/kind on version v.
func (t apiTable) check(apiVersion, kind string, v kubeVersion) apiStatus {
	e, ok := t.lookup(apiVersion, kind)
	if !ok {
		return apiStatus{}
	}
	subject := apiVersion + " " + kind
	switch {
	case e.removed.set() && e.removed.atOrAfter(v):
		return apiStatus{RuleAPIRemoved, fmt.Sprintf("%s was removed in Kubernetes %s; %s", subject, e.removed, e.instead())}
	case e.introduced.set() && !e.introduced.atOrAfter(v):
		msg := fmt.Sprintf("%s is not served before Kubernetes %s (rendering for %s); ", subject, e.introduced, v.text)
		if alt := t.servedInstead(apiVersion, kind, v); alt != "" {
			msg += fmt.Sprintf("on %d.%d use %s", v.major, v.minor, alt)
		} else {
			msg += fmt.Sprintf("Kubernetes %d.%d serves no apiVersion of %s: render the object only where it is served", v.major, v.minor, kind)
		}
		return apiStatus{RuleAPINotYet, msg}
	case e.deprecated.set() && e.deprecated.atOrAfter(v):
		when := ""
		if e.removed.set() {
			when = fmt.Sprintf(" and will be removed in %s", e.removed)
		}
		return apiStatus{RuleAPIDeprecated, fmt.Sprintf("%s is deprecated since Kubernetes %s%s; %s", subject, e.deprecated, when, e.instead())}
	}
	return apiStatus{}
}

// servedInstead returns the apiVersion of the same group that serves kind on
// version v, the most stable and newest of them, or "" when v serves none.
func (t apiTable) servedInstead(apiVersion, kind string, v kubeVersion) string {
	group := groupOf(apiVersion)
	best := ""
	for _, e := range t.entries {
		if e.APIVersion == apiVersion || groupOf(e.APIVersion) != group || !slices.Contains(e.Kinds, kind) || !e.served(v) {
			continue
		}
		if best == "" || version.CompareKubeAwareVersionStrings(versionOf(e.APIVersion), versionOf(best)) > 0 {
			best = e.APIVersion
		}
	}
	return best
}

// versionOf returns the version part of an apiVersion, "v1beta3" of "flowcontrol.apiserver.k8s.io/v1beta3".
func versionOf(apiVersion string) string {
	_, v, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return apiVersion
	}
	return v
}

// capabilities returns helm capabilities for version v: its KubeVersion, and
// the Helm SDK's known API versions corrected by the table: every
// apiVersion/Kind of the table is present exactly when v serves it, and an
// apiVersion of the table exactly when v serves one of its kinds there. The
// table lists always-served kinds of such apiVersions (no dates) for that.
func (t apiTable) capabilities(v kubeVersion) *common.Capabilities {
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *v.helm
	set := map[string]bool{}
	for _, gv := range caps.APIVersions {
		set[gv] = true
	}
	groups := map[string]bool{}
	for _, e := range t.entries {
		groups[e.APIVersion] = true
		for _, k := range e.Kinds {
			set[e.APIVersion+"/"+k] = e.served(v)
		}
	}
	for gv := range groups {
		set[gv] = slices.ContainsFunc(t.entries, func(e apiEntry) bool { return e.APIVersion == gv && e.served(v) })
	}
	out := make(common.VersionSet, 0, len(set))
	for k, on := range set {
		if on {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	caps.APIVersions = out
	return caps
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
