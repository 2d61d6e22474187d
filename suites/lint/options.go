package lint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
)

// Options configures [Run]. Only ChartDir is required.
type Options struct {
	// ChartDir is the chart's directory (the one holding Chart.yaml).
	ChartDir string
	// ValuesFiles are applied after the cloud overlay, later files winning,
	// like repeated `helm --values`.
	ValuesFiles []string
	// KubeVersions to render for, e.g. "1.34.4". Empty: the matrix file's versions.
	KubeVersions []string
	// Clouds names the overlays <OverlayDir>/<cloud>.yaml to lint. Empty: every
	// overlay found; with no overlay at all, one cell named "default".
	Clouds []string
	// OverlayDir holds the cloud overlays. Empty: <ChartDir>/values.
	OverlayDir string
	// MatrixFile is a YAML file {versions: [...]}. Empty: the first
	// fixtures/kubernetes.yaml found walking up from ChartDir, else built-in versions.
	MatrixFile string
	// Namespace is the release namespace. Empty: "default".
	Namespace string
	// ReleaseName is the release name used to render. Empty: "shakedown".
	ReleaseName string
	// APIVersions are extra entries for .Capabilities.APIVersions, like
	// `helm template --api-versions`: what the target clusters serve beyond
	// Kubernetes itself, e.g. "monitoring.coreos.com/v1/ServiceMonitor".
	APIVersions []string
	// Parallelism bounds cells linted at once. Zero: GOMAXPROCS.
	Parallelism int
}

// DefaultCloud names the single cell of a chart without overlays.
const DefaultCloud = "default"

// overlay is one cloud's values, merged with the user's values files.
type overlay struct {
	cloud  string
	values map[string]any
}

// kubeVersion is a parsed Kubernetes version of the matrix.
type kubeVersion struct {
	text         string
	major, minor int
	helm         *common.KubeVersion
}

// plan is Options resolved into what the run needs.
type plan struct {
	chartDir    string
	namespace   string
	releaseName string
	overlays    []overlay
	versions    []kubeVersion
	apiVersions []string
	parallelism int
}

// resolve validates the options and loads values and versions.
func (o Options) resolve() (plan, error) {
	p := plan{namespace: o.Namespace, releaseName: o.ReleaseName, parallelism: o.Parallelism, apiVersions: o.APIVersions}
	if o.ChartDir == "" {
		return p, errors.New("lint: no chart directory given; pass the directory that holds Chart.yaml")
	}
	dir, err := filepath.Abs(o.ChartDir)
	if err != nil {
		return p, fmt.Errorf("lint: resolve chart directory %q: %w", o.ChartDir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return p, fmt.Errorf("lint: %s is not a chart (no Chart.yaml): %w", dir, err)
	}
	p.chartDir = dir
	if p.namespace == "" {
		p.namespace = "default"
	}
	if p.releaseName == "" {
		p.releaseName = "shakedown"
	}

	versions := o.KubeVersions
	if len(versions) == 0 {
		if versions, err = matrixVersions(o.MatrixFile, dir); err != nil {
			return p, err
		}
	}
	if p.versions, err = parseVersions(versions); err != nil {
		return p, err
	}

	user, err := readValuesFiles(o.ValuesFiles)
	if err != nil {
		return p, err
	}
	overlayDir := o.OverlayDir
	if overlayDir == "" {
		overlayDir = filepath.Join(dir, "values")
	}
	p.overlays, err = loadOverlays(overlayDir, o.Clouds, user)
	return p, err
}

// parseVersions parses and de-duplicates Kubernetes versions.
func parseVersions(texts []string) ([]kubeVersion, error) {
	var out []kubeVersion
	for _, t := range texts {
		t = strings.TrimPrefix(strings.TrimSpace(t), "v")
		if t == "" || slices.ContainsFunc(out, func(v kubeVersion) bool { return v.text == t }) {
			continue
		}
		hv, err := common.ParseKubeVersion(t)
		if err != nil {
			return nil, fmt.Errorf("lint: Kubernetes version %q: %w; use MAJOR.MINOR[.PATCH], e.g. 1.34.4", t, err)
		}
		v := kubeVersion{text: t, helm: hv}
		if _, err := fmt.Sscanf(hv.Major+" "+hv.Minor, "%d %d", &v.major, &v.minor); err != nil {
			return nil, fmt.Errorf("lint: Kubernetes version %q: %w", t, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("lint: no Kubernetes version to lint for; pass e.g. --kubernetes 1.34.4")
	}
	return out, nil
}
