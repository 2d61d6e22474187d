package lint

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
)

// renderedFile is one manifest file of the chart after rendering.
type renderedFile struct {
	name    string // relative to the chart, e.g. "templates/web.yaml" or "crds/foo.yaml"
	content string
}

// helmNamedChartYAML reports whether helm lint found an error in Chart.yaml.
func (c *cellRun) helmNamedChartYAML() bool {
	return slices.ContainsFunc(c.findings, func(f Finding) bool {
		return f.Rule == RuleHelmLint && f.File == "Chart.yaml" && f.Severity == SeverityError
	})
}

// render renders the chart for the cell, the way `helm template` would on a
// cluster of the cell's Kubernetes version. Failures are recorded as SD105.
func (c *cellRun) render(ctx context.Context) ([]renderedFile, bool) {
	chrt, err := loader.Load(c.plan.loadDir)
	if err != nil && c.helmNamedChartYAML() {
		return nil, false // helm lint named the defect of Chart.yaml
	}
	if err != nil {
		c.addFile(RuleRender, "Chart.yaml", fmt.Sprintf("chart %s does not load: %s", c.plan.chartDir, oneLine(err.Error())))
		return nil, false
	}
	if !c.checkKubeVersion(chrt.Metadata.KubeVersion) {
		return nil, false
	}
	values := deepCopy(c.values)
	if err := chartutil.ProcessDependencies(chrt, values); err != nil {
		c.addFile(RuleRender, "Chart.yaml", fmt.Sprintf("dependencies of chart %s: %s", chrt.Name(), oneLine(err.Error())))
		return nil, false
	}
	cvals, err := util.CoalesceValues(chrt, values)
	if err != nil {
		c.addFile(RuleRender, "values.yaml", "values do not merge: "+oneLine(err.Error()))
		return nil, false
	}
	opts := common.ReleaseOptions{Name: c.plan.releaseName, Namespace: c.plan.namespace, Revision: 1, IsInstall: true}
	caps := c.apis.capabilities(c.version)
	caps.APIVersions = append(slices.Clone(caps.APIVersions), c.plan.apiVersions...)
	vals, err := util.ToRenderValuesWithSchemaValidation(chrt, cvals, opts, caps, false)
	if err != nil {
		c.addFile(RuleRender, "values.yaml", "values: "+oneLine(err.Error()))
		return nil, false
	}
	out, err := engine.Engine{}.RenderWithContext(ctx, chrt, vals)
	if err != nil {
		c.addFile(RuleRender, "templates/", "chart does not render: "+oneLine(err.Error()))
		return nil, false
	}

	var files []renderedFile
	for _, crd := range chrt.CRDObjects() {
		files = append(files, renderedFile{name: crd.Name, content: string(crd.File.Data)})
	}
	prefix := chrt.Name() + "/"
	for name, content := range out {
		ext := path.Ext(name)
		if strings.HasPrefix(path.Base(name), "_") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		files = append(files, renderedFile{name: strings.TrimPrefix(name, prefix), content: content})
	}
	slices.SortFunc(files, func(a, b renderedFile) int { return strings.Compare(a.name, b.name) })
	return files, true
}
