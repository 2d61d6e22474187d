package lint

import (
	"fmt"
	"slices"
	"strings"

	helmlint "helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// helmLint runs `helm lint --strict` for the cell in-process: Helm's warnings
// and errors become SD100 errors, its informational messages notices.
func (c *cellRun) helmLint() {
	l := helmlint.RunAll(c.plan.loadDir, deepCopy(c.values), c.plan.namespace, helmlint.WithKubeVersion(c.version.helm))
	for _, m := range l.Messages {
		level := "error"
		if m.Severity == support.WarningSev {
			level = "warning, an error in strict mode"
		}
		c.addFile(RuleHelmLint, chartRelative(c.plan.loadDir, m.Path), fmt.Sprintf("helm lint (%s): %s", level, oneLine(m.Err.Error())))
		if m.Severity < support.WarningSev {
			last := &c.findings[len(c.findings)-1]
			last.Severity = SeverityNotice
			last.Message = "helm lint (info): " + oneLine(m.Err.Error())
		}
	}
}

// dropCoveredHelmFindings keeps one finding per defect: helm lint messages
// that the cell's own rules report with more precision are removed.
//   - YAML errors: helm lint splits documents only on bare "---" lines, while
//     helm install splits on any line starting with "---"; SD101 judges with
//     install's splitter, so "---# note" is no error.
//   - object names: checked per object by SD106, List items included (helm
//     lint also judges the List itself, which has no name).
//   - deprecated or removed apiVersions: SD110/SD111 name the replacement.
//   - workloads without a selector: SD120 also checks that it matches.
func (c *cellRun) dropCoveredHelmFindings() {
	covered := func(rules []string, file, apiVersion string) bool {
		return slices.ContainsFunc(c.findings, func(f Finding) bool {
			return slices.Contains(rules, f.Rule) && f.File == file && (apiVersion == "" || f.Object.APIVersion+" "+f.Object.Kind == apiVersion)
		})
	}
	c.findings = slices.DeleteFunc(c.findings, func(f Finding) bool {
		if f.Rule != RuleHelmLint {
			return false
		}
		_, msg, _ := strings.Cut(f.Message, "): ")
		switch {
		case strings.HasPrefix(msg, "unable to parse YAML"), strings.HasPrefix(msg, "object name does not conform"):
			return true
		case strings.Contains(msg, " is deprecated in v"):
			subject, _, _ := strings.Cut(msg, " is deprecated in v")
			return covered([]string{RuleAPIRemoved, RuleAPIDeprecated}, f.File, subject)
		case strings.Contains(msg, "must contain matchLabels or matchExpressions"):
			return covered([]string{RuleSelectorMismatch}, f.File, "")
		}
		return false
	})
}
