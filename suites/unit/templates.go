package unit

import (
	"path"
	"sort"
	"strings"

	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// templateName turns a suite's template reference (deployment.yaml,
// templates/deployment.yaml, ./templates/*.yaml) into a chart template name.
func templateName(ref string) string {
	ref = strings.TrimPrefix(ref, "./")
	if !strings.HasPrefix(ref, "templates/") {
		ref = path.Join("templates", ref)
	}
	return ref
}

// isGlob reports whether a reference is a pattern.
func isGlob(ref string) bool {
	return strings.ContainsAny(ref, "*?[")
}

// matchAny reports whether a chart template name matches any reference.
func matchAny(name string, refs []string) bool {
	for _, r := range refs {
		r = templateName(r)
		if r == name {
			return true
		}
		if ok, _ := path.Match(r, name); ok {
			return true
		}
	}
	return false
}

// selectTemplates picks the chart templates a case renders: the suite's,
// the case's and the assertions' (all when none is named), minus
// excludeTemplates. Partials are always kept by the renderer.
func selectTemplates(ch *chart.Chart, s *suite, j *job) []string {
	refs := append([]string{}, s.Templates...)
	refs = append(refs, j.Templates...)
	if j.Template != "" {
		refs = append(refs, j.Template)
	}
	for _, a := range j.Asserts {
		if a.Template != "" {
			refs = append(refs, a.Template)
		}
	}
	all := len(refs) == 0
	var out []string
	for _, t := range ch.Templates {
		if strings.HasPrefix(path.Base(t.Name), "_") {
			continue
		}
		if (all || matchAny(t.Name, refs)) && !matchAny(t.Name, s.ExcludeTemplates) {
			out = append(out, t.Name)
		}
	}
	sort.Strings(out)
	return out
}

// assertTargets says which rendered files an assertion checks, and
// whether they came from a pattern (then files with no documents are skipped).
func assertTargets(chartName string, s *suite, j *job, a *assertion, kept []string) (names []string, wildcard bool) {
	var refs []string
	switch {
	case a.Template != "":
		refs = []string{a.Template}
	case len(j.Templates) > 0:
		refs = j.Templates
	case j.Template != "":
		refs = []string{j.Template}
	default:
		refs = s.Templates
	}
	if len(refs) == 0 {
		for _, k := range kept {
			names = append(names, chartName+"/"+k)
		}
		return names, true
	}
	for _, r := range refs {
		if !isGlob(r) {
			names = append(names, chartName+"/"+templateName(r))
			continue
		}
		wildcard = true
		for _, k := range kept {
			if matchAny(k, []string{r}) {
				names = append(names, chartName+"/"+k)
			}
		}
	}
	return names, wildcard
}
