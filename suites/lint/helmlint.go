package lint

import (
	"fmt"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	helmlint "helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// helmLintRun is the outcome of helm lint for one cloud overlay, shared by
// the cells of that overlay.
type helmLintRun struct {
	once     sync.Once
	version  string
	messages []support.Message
}

// helmLint reports `helm lint --strict` for the cell: Helm's warnings and
// errors become SD100 errors, its informational messages notices.
//
// helm lint runs once per overlay, at the newest Kubernetes version of the
// matrix, not once per cell: its checks that depend on the version (the
// render, YAML, object names, deprecated APIs, selectors) are made per cell by
// the layer's own rules, and each of its runs costs more than a whole cell
// (it builds a new type registry for every rendered document). Its messages
// that those rules cover are not reported (see coveredByOwnRules).
func (c *cellRun) helmLint() {
	run := c.helmRuns[c.cell.Cloud]
	run.once.Do(func() {
		newest := c.plan.versions[len(c.plan.versions)-1]
		for _, v := range c.plan.versions {
			a, errA := semver.NewVersion(v.helm.Version)
			b, errB := semver.NewVersion(newest.helm.Version)
			if errA == nil && errB == nil && a.GreaterThan(b) {
				newest = v
			}
		}
		run.version = newest.text
		run.messages = helmlint.RunAll(c.plan.loadDir, deepCopy(c.values), c.plan.namespace, helmlint.WithKubeVersion(newest.helm)).Messages
	})
	for _, m := range run.messages {
		msg := oneLine(m.Err.Error())
		file := chartRelative(c.plan.loadDir, m.Path)
		if coveredByOwnRules(msg) || renderFailure(file, m, msg) {
			continue
		}
		switch {
		case m.Severity < support.WarningSev:
			c.addFile(RuleHelmLint, file, "helm lint (info): "+msg)
			c.findings[len(c.findings)-1].Severity = SeverityNotice
		case m.Severity == support.WarningSev:
			c.addFile(RuleHelmLint, file, "helm lint (warning, an error in strict mode): "+msg)
		default:
			c.addFile(RuleHelmLint, file, "helm lint (error): "+msg)
		}
	}
}

// coveredByOwnRules reports a helm lint message that the layer's own rules
// report per Kubernetes version and with more precision, so that each defect
// is reported once:
//   - YAML errors: helm lint splits documents only on bare "---" lines, while
//     helm install splits on any line starting with "---"; SD101 judges with
//     install's splitter, so "---# note" is no error.
//   - object names: SD106 checks them per object, List items included (helm
//     lint also judges the List itself, which has no name).
//   - deprecated or removed apiVersions: helm lint reads the prerelease
//     lifecycle of the k8s.io/api types, which SD110/SD111 read too, beside
//     data/apis.yaml, and they name the replacement.
//   - workloads without a selector: SD120 requires one that matches.
func coveredByOwnRules(msg string) bool {
	return strings.HasPrefix(msg, "unable to parse YAML") ||
		strings.HasPrefix(msg, "object name does not conform") ||
		(strings.Contains(msg, " is deprecated in v") && strings.Contains(msg, "; use ")) ||
		strings.Contains(msg, "must contain matchLabels or matchExpressions")
}

// renderFailure reports helm lint's messages about a chart that does not load
// or render: the cell's own render reports those per version (SD105), and
// helm lint repeats a Chart.yaml defect it already names ("unable to load
// chart ...", "version ” is not a valid SemVerV2" after "version is required").
func renderFailure(file string, m support.Message, msg string) bool {
	switch {
	case strings.HasPrefix(msg, "unable to load chart"), strings.HasPrefix(msg, "version '' is not a valid SemVer"):
		return true
	case file == "templates/" && m.Severity == support.ErrorSev:
		return !strings.Contains(msg, "director") // keep "templates/ is not a directory" and the like
	}
	return false
}

// checkKubeVersion is the part of SD105 that helm install checks before
// rendering: the chart's kubeVersion constraint admits the cell's version.
func (c *cellRun) checkKubeVersion(constraint string) bool {
	if constraint == "" || chartutil.IsCompatibleRange(constraint, c.version.helm.String()) {
		return true
	}
	c.addFile(RuleRender, "Chart.yaml", fmt.Sprintf("Chart.yaml requires kubeVersion %s, which excludes Kubernetes %s: helm install refuses the chart there; widen kubeVersion or drop %s from the matrix",
		constraint, c.version.text, c.version.text))
	return false
}
