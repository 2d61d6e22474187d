package integration

import (
	"fmt"
	"maps"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// OverlayFile is where a chart keeps the values overlay of a cloud.
func OverlayFile(cloud string) string { return "values/" + cloud + ".yaml" }

// ChartValues merges, in order, the chart's own overlay for cloud (read from
// the chart, so an older release uses its own overlay; none when cloud is
// empty), the values files, and extra. Later sources win, maps merge deeply,
// the way `helm install -f a -f b` merges.
func ChartValues(ch *chart.Chart, cloud string, files []string, extra map[string]any) (map[string]any, error) {
	out := map[string]any{}
	if cloud != "" {
		data, ok := chartFile(ch, OverlayFile(cloud))
		if !ok {
			return nil, fmt.Errorf("integration: chart %s %s has no %s (fix: add the overlay to the chart or drop cloud %q)", ch.Name(), ch.Metadata.Version, OverlayFile(cloud), cloud)
		}
		vals, err := common.ReadValues(data)
		if err != nil {
			return nil, fmt.Errorf("integration: chart %s %s: parse %s: %w", ch.Name(), ch.Metadata.Version, OverlayFile(cloud), err)
		}
		out = mergeValues(out, vals)
	}
	for _, f := range files {
		vals, err := common.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("integration: values file %s: %w (fix: pass a readable YAML map)", f, err)
		}
		out = mergeValues(out, vals)
	}
	return mergeValues(out, extra), nil
}

// chartFile returns one of the chart's non-template files.
func chartFile(ch *chart.Chart, name string) ([]byte, bool) {
	for _, f := range ch.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

// mergeValues deep-merges src into a copy of dst; src wins.
func mergeValues(dst, src map[string]any) map[string]any {
	out := maps.Clone(dst)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range src {
		if vm, ok := v.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(dm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
