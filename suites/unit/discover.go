package unit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/helm-unittest/helm-unittest/pkg/unittest"
	"github.com/helm-unittest/helm-unittest/pkg/unittest/results"
	"gopkg.in/yaml.v3"
	v3chart "helm.sh/helm/v3/pkg/chart"
	v3util "helm.sh/helm/v3/pkg/chartutil"
)

// discovered is what one chart yields for one Kubernetes version: the suites
// to run, and suite files that could not be read (reported as errored suites).
type discovered struct {
	suites   []*unittest.TestSuite
	unusable []*results.TestSuiteResult
}

// The engine's TestRunner walks a chart and its enabled subcharts to collect
// suites, but does it in unexported methods that also run and print
// sequentially. The walk below takes the same steps with the engine's exported
// parsers (GetFiles, ParseTestSuiteFile, RenderTestSuiteFiles) so suites can be
// run in parallel; the conformance test in this package holds it to the
// helm-unittest CLI, case for case.

// discover collects the suites of the chart at chartPath and, unless
// SkipSubcharts, of its enabled subcharts. An error means the chart cannot be
// tested at all (helm-unittest then counts the chart as errored and runs none
// of its suites).
func (p plan) discover(chartPath string, ch *v3chart.Chart) (discovered, error) {
	var d discovered
	err := p.walk(&d, chartPath, ch.Name(), ch, nil)
	return d, err
}

// walk adds the suites of one chart of the dependency tree, then recurses into
// its enabled dependencies. merged holds the root chart's values (with
// ValuesFiles) that dependency conditions and tags are read from.
func (p plan) walk(d *discovered, chartPath, chartRoute string, ch *v3chart.Chart, merged v3util.Values) error {
	suites, err := p.suitesOf(d, chartPath, chartRoute)
	if err != nil {
		return err
	}
	d.suites = append(d.suites, suites...)
	if p.SkipSubcharts {
		return nil
	}
	if merged == nil {
		// As the engine does, a values file that cannot be read for the
		// dependency conditions leaves every subchart enabled.
		merged, _ = p.mergedValues(ch, chartPath)
	}
	for _, sub := range ch.Dependencies() {
		if merged != nil && !subchartEnabled(ch, sub, merged) {
			continue
		}
		name := sub.Metadata.Name
		inner := &discovered{}
		err := p.walk(inner, filepath.Join(chartPath, "charts", name), filepath.Join(chartRoute, "charts", name), sub, merged)
		d.unusable = append(d.unusable, inner.unusable...)
		if err != nil {
			// A subchart whose suites cannot be read is passed over, not fatal.
			continue
		}
		d.suites = append(d.suites, inner.suites...)
	}
	return nil
}

// suitesOf reads the suite files (and the rendered suites of ChartTestsPath)
// of one chart of the tree.
func (p plan) suitesOf(d *discovered, chartPath, chartRoute string) ([]*unittest.TestSuite, error) {
	files, err := unittest.GetFiles(chartPath, p.TestFiles, false)
	if err != nil {
		return nil, fmt.Errorf("find suite files %v under %s: %w", p.TestFiles, chartPath, err)
	}
	values, err := unittest.GetFiles("", p.ValuesFiles, true)
	if err != nil {
		return nil, fmt.Errorf("find values files %v: %w", p.ValuesFiles, err)
	}
	var rendered []*unittest.TestSuite
	if p.ChartTestsPath != "" {
		dir := filepath.Join(chartPath, p.ChartTestsPath)
		if _, err := os.Stat(dir); err == nil {
			rendered, err = unittest.RenderTestSuiteFiles(dir, chartRoute, p.Strict, values, nil)
			if err != nil {
				return nil, fmt.Errorf("render the suites of %s: %w", dir, err)
			}
		}
	}
	var out []*unittest.TestSuite
	for _, f := range files {
		suites, err := unittest.ParseTestSuiteFile(f, chartRoute, p.Strict, values)
		if err != nil {
			d.unusable = append(d.unusable, &results.TestSuiteResult{FilePath: f, ExecError: err})
			return nil, err
		}
		out = append(out, suites...)
	}
	return append(out, rendered...), nil
}

// mergedValues is the chart's values with ValuesFiles merged over them,
// paths relative to the chart; dependency conditions are read from it.
func (p plan) mergedValues(ch *v3chart.Chart, chartPath string) (v3util.Values, error) {
	base := ch.Values
	if base == nil {
		base = map[string]any{}
	}
	for _, f := range p.ValuesFiles {
		path := f
		if !filepath.IsAbs(f) {
			path = filepath.Join(chartPath, f)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read values file %s: %w", f, err)
		}
		v := map[string]any{}
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("parse values file %s: %w", f, err)
		}
		base = v3util.MergeTables(v, base)
	}
	return v3util.Values(base), nil
}

// subchartEnabled says whether the dependency sub of parent is enabled by its
// condition (which wins when set) or, without one, by any of its tags being
// true. A path or tag that is missing or not a boolean leaves it enabled.
func subchartEnabled(parent, sub *v3chart.Chart, values v3util.Values) bool {
	if sub.Metadata == nil || parent.Metadata == nil {
		return true
	}
	var dep *v3chart.Dependency
	for _, d := range parent.Metadata.Dependencies {
		name := d.Alias
		if name == "" {
			name = d.Name
		}
		if name == sub.Metadata.Name {
			dep = d
			break
		}
	}
	switch {
	case dep == nil:
		return true
	case dep.Condition != "":
		return conditionTrue(dep.Condition, values)
	case len(dep.Tags) > 0:
		return anyTagTrue(dep.Tags, values)
	}
	return true
}

// conditionTrue reads a dotted path such as "postgresql.enabled"; anything
// but a boolean false there (a missing key, another type) counts as true.
func conditionTrue(path string, values v3util.Values) bool {
	cur := map[string]any(values)
	parts := strings.Split(path, ".")
	for i, part := range parts {
		next, ok := cur[part]
		if !ok {
			return true
		}
		if i == len(parts)-1 {
			b, ok := next.(bool)
			return !ok || b
		}
		if cur, ok = next.(map[string]any); !ok {
			return true
		}
	}
	return true
}

// anyTagTrue is true when values.tags holds true for one of tags, or when
// there is no tags map at all.
func anyTagTrue(tags []string, values v3util.Values) bool {
	m, ok := values["tags"].(map[string]any)
	if !ok {
		return true
	}
	for _, t := range tags {
		if b, ok := m[t].(bool); ok && b {
			return true
		}
	}
	return false
}
