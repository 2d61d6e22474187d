package lint

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// overlaysFileName is where a repository maps its charts to their cloud
// overlay directories, relative to the repository root.
const overlaysFileName = "fixtures/overlays.yaml"

// overlayMap is the content of fixtures/overlays.yaml: chart directory →
// overlay directory, both relative to the repository root (the parent of
// fixtures/).
type overlayMap struct {
	Charts map[string]string `json:"charts"`
}

// overlaySource is where a chart's cloud overlays are, and who said so.
type overlaySource struct {
	dir  string // holds <cloud>.yaml files; "" when the chart has none
	from string // "Options.OverlayDir (--overlays)" or the fixtures file, for errors
}

// findOverlays returns the overlay directory of the chart: explicit (from
// Options.OverlayDir) if given, else the one the nearest fixtures/overlays.yaml
// above the chart maps it to, else none. A chart's own values/ directory is
// not taken for overlays unless named so: third-party charts keep other
// values files there.
func findOverlays(explicit string, chart chartSource) (overlaySource, error) {
	if explicit != "" {
		src := overlaySource{from: "Options.OverlayDir (--overlays)"}
		dir, err := filepath.Abs(explicit)
		if err == nil {
			err = isDir(dir)
		}
		if err != nil {
			return src, fmt.Errorf("%w: overlay directory %s: %v; pass --overlays (Options.OverlayDir) an existing directory of <cloud>.yaml files", ErrInvalidOptions, explicit, err)
		}
		src.dir = dir
		return src, nil
	}
	file := findUp(chart.home, overlaysFileName)
	if file == "" {
		return overlaySource{}, nil
	}
	src := overlaySource{from: file}
	data, err := os.ReadFile(file)
	if err != nil {
		return src, fmt.Errorf("lint: read overlay map: %w", err)
	}
	var m overlayMap
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return src, fmt.Errorf("%w: overlay map %s: %v; expected {charts: {CHART_DIR: OVERLAY_DIR}}, paths relative to %s",
			ErrInvalidOptions, file, err, filepath.Dir(filepath.Dir(file)))
	}
	root := filepath.Dir(filepath.Dir(file))
	rel, err := filepath.Rel(root, chart.path)
	if err != nil {
		return overlaySource{}, nil
	}
	for c, o := range m.Charts {
		if filepath.Clean(filepath.FromSlash(c)) != rel {
			continue
		}
		dir := filepath.FromSlash(o)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		if err := isDir(dir); err != nil {
			return src, fmt.Errorf("%w: overlay map %s: chart %s maps to %s: %v; fix the path (relative to %s) or pass --overlays DIR",
				ErrInvalidOptions, file, c, o, err, root)
		}
		src.dir = dir
		return src, nil
	}
	return overlaySource{}, nil
}

// isDir returns an error unless path is an existing directory.
func isDir(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", path)
	}
	return nil
}
