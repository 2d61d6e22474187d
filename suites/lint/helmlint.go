package lint

import (
	"fmt"

	helmlint "helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// helmLint runs `helm lint --strict` for the cell in-process: Helm's warnings
// and errors become SD100 errors, its informational messages notices.
func (c *cellRun) helmLint() {
	l := helmlint.RunAll(c.plan.chartDir, deepCopy(c.values), c.plan.namespace, helmlint.WithKubeVersion(c.version.helm))
	for _, m := range l.Messages {
		level := "error"
		if m.Severity == support.WarningSev {
			level = "warning, an error in strict mode"
		}
		c.addFile(RuleHelmLint, m.Path, fmt.Sprintf("helm lint (%s): %s", level, oneLine(m.Err.Error())))
		if m.Severity < support.WarningSev {
			last := &c.findings[len(c.findings)-1]
			last.Severity = SeverityNotice
			last.Message = "helm lint (info): " + oneLine(m.Err.Error())
		}
	}
}
