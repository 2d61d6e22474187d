package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// readValuesFiles reads and merges values files, later files winning.
func readValuesFiles(files []string) (map[string]any, error) {
	merged := map[string]any{}
	for _, f := range files {
		vals, err := common.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: values file %s: %v", ErrInvalidOptions, f, err)
		}
		merged = loader.MergeMaps(merged, vals)
	}
	return merged, nil
}

// loadOverlays reads the overlays of the clouds from src.dir (every overlay
// there when clouds is empty), each merged under the user's values. A chart
// without overlays (src.dir "") is one DefaultCloud cell.
func loadOverlays(chart string, src overlaySource, clouds []string, user map[string]any) ([]overlay, error) {
	var available []string
	if src.dir != "" {
		var err error
		if available, err = overlayNames(src.dir); err != nil {
			return nil, err
		}
		if len(available) == 0 {
			return nil, fmt.Errorf("%w: overlay directory %s (from %s) holds no <cloud>.yaml file; point at the directory that holds the cloud overlays",
				ErrInvalidOptions, src.dir, src.from)
		}
	}
	var names []string
	for _, c := range clouds {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(names, c) {
			names = append(names, c)
		}
	}
	if len(names) == 0 {
		names = available
	}
	if len(names) == 0 {
		return []overlay{{cloud: DefaultCloud, values: user}}, nil
	}
	var out []overlay
	for _, c := range names {
		if c == DefaultCloud && !slices.Contains(available, c) {
			out = append(out, overlay{cloud: c, values: user})
			continue
		}
		if src.dir == "" {
			return nil, fmt.Errorf("%w: chart %s has no cloud overlays, so cloud %q cannot be linted; name the directory of its <cloud>.yaml overlays with --overlays DIR (Options.OverlayDir) or map the chart to it in %s at the repository root, or lint without --cloud",
				ErrInvalidOptions, chart, c, overlaysFileName)
		}
		path := filepath.Join(src.dir, c+".yaml")
		if !slices.Contains(available, c) {
			return nil, fmt.Errorf("%w: no overlay for cloud %q: %s does not exist (overlays found: %s)",
				ErrInvalidOptions, c, path, strings.Join(available, ", "))
		}
		vals, err := common.ReadValuesFile(path)
		if err != nil {
			return nil, fmt.Errorf("lint: overlay for cloud %q: %w", c, err)
		}
		out = append(out, overlay{cloud: c, values: loader.MergeMaps(vals, user)})
	}
	return out, nil
}

// overlayNames lists the <cloud>.yaml files of dir, sorted; none if dir is absent.
func overlayNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lint: list cloud overlays: %w", err)
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// deepCopy copies values so that Helm, which merges into the maps it is
// given, cannot change them for another cell or step.
func deepCopy(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = deepCopyValue(x)
	}
	return out
}

func deepCopyValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		return deepCopy(t)
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopyValue(e)
		}
		return s
	default:
		return x
	}
}
