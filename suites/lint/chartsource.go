package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// chartSource is the chart of a run: what the user named and the directory
// Helm reads it from.
type chartSource struct {
	// path is the chart as named, made absolute: a chart directory or a
	// packaged chart (.tgz).
	path string
	// dir holds Chart.yaml: path itself, or where the archive was expanded.
	dir string
	// home is where fixtures/ files are looked up from: the chart directory,
	// or the directory holding the archive.
	home string
	// temp is the directory to remove when the run ends; "" for a chart directory.
	temp string
}

// openChart resolves name, a chart directory or a packaged chart. A packaged
// chart is expanded into a temporary directory, as `helm lint` does, because
// Helm's lint rules read the chart's files from disk; the caller removes
// chartSource.temp.
func openChart(name string) (chartSource, error) {
	const fix = "pass a chart directory (the one holding Chart.yaml) or a packaged chart (.tgz)"
	if name == "" {
		return chartSource{}, fmt.Errorf("%w: no chart given; %s", ErrInvalidOptions, fix)
	}
	path, err := filepath.Abs(name)
	if err != nil {
		return chartSource{}, fmt.Errorf("%w: chart %q: %v; %s", ErrInvalidOptions, name, err, fix)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return chartSource{}, fmt.Errorf("%w: chart %s: %v; %s", ErrInvalidOptions, path, err, fix)
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "Chart.yaml")); err != nil {
			return chartSource{}, fmt.Errorf("%w: %s is not a chart (no Chart.yaml): %v; %s", ErrInvalidOptions, path, err, fix)
		}
		return chartSource{path: path, dir: path, home: path}, nil
	}
	temp, err := os.MkdirTemp("", "shakedown-lint-")
	if err != nil {
		return chartSource{}, fmt.Errorf("lint: expand packaged chart %s: %w", path, err)
	}
	dir, err := expandChart(temp, path)
	if err != nil {
		_ = os.RemoveAll(temp)
		return chartSource{}, fmt.Errorf("%w: %s is not a packaged chart: %v; %s", ErrInvalidOptions, path, err, fix)
	}
	return chartSource{path: path, dir: dir, home: filepath.Dir(path), temp: temp}, nil
}

// expandChart expands the packaged chart archive into temp and returns the
// chart's directory there (Helm writes it to temp/<chart name>).
func expandChart(temp, archive string) (string, error) {
	if err := chartutil.ExpandFile(temp, archive); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(temp)
	if err != nil {
		return "", err
	}
	if len(entries) != 1 || !entries[0].IsDir() {
		return "", fmt.Errorf("expanded into %d entries, want one chart directory", len(entries))
	}
	dir := filepath.Join(temp, entries[0].Name())
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return "", fmt.Errorf("no Chart.yaml: %w", err)
	}
	return dir, nil
}

// cleanup removes what resolve created for the run (an expanded packaged
// chart). It is safe on the zero plan and more than once.
func (p plan) cleanup() {
	if p.tempDir != "" {
		_ = os.RemoveAll(p.tempDir)
	}
}

// chartRelative makes a path of a helm lint message relative to the chart.
// Helm names most files relative already, but gives its dependency rules the
// chart's absolute directory, which for a packaged chart is a temporary one;
// those point at Chart.yaml, where dependencies are declared.
func chartRelative(chartDir, path string) string {
	if !filepath.IsAbs(path) {
		return path
	}
	rel, err := filepath.Rel(chartDir, path)
	switch {
	case err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)):
		return path
	case rel == ".":
		return "Chart.yaml"
	}
	return filepath.ToSlash(rel)
}
