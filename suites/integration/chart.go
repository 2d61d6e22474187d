package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// LoadChart loads a chart from src: a chart directory, a packaged .tgz, or a
// git ref (tag, branch, commit) of the repository holding workDir, in which
// case the chart is read from that ref at workDir's path (`git archive`) into
// a directory under tmpDir. workDir is the working-tree chart directory.
func LoadChart(ctx context.Context, src, workDir, tmpDir string) (*chart.Chart, error) {
	if src == "" {
		src = workDir
	}
	if _, err := os.Stat(src); err == nil {
		ch, err := loader.Load(src)
		if err != nil {
			return nil, fmt.Errorf("integration: load chart %s: %w (fix: point at a chart directory or a .tgz made by helm package)", src, err)
		}
		return ch, nil
	}
	if strings.HasSuffix(src, ".tgz") || strings.HasSuffix(src, ".tar.gz") {
		return nil, fmt.Errorf("integration: chart package %s does not exist (fix: check the path)", src)
	}
	dir, err := chartAtGitRef(ctx, src, workDir, tmpDir)
	if err != nil {
		return nil, err
	}
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("integration: load chart %s at git ref %s: %w", workDir, src, err)
	}
	return ch, nil
}

// PackageChart writes ch as a .tgz into dir, like `helm package`, and
// returns the file's path.
func PackageChart(ch *chart.Chart, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("integration: package chart %s: %w", ch.Name(), err)
	}
	path, err := chartutil.Save(ch, dir)
	if err != nil {
		return "", fmt.Errorf("integration: package chart %s into %s: %w", ch.Name(), dir, err)
	}
	return path, nil
}

// CopyChartDir copies a chart directory to dst (created), so a test can edit
// the copy. It follows no symlinks.
func CopyChartDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
