package lint

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
)

// ErrInvalidOptions marks an error in how the run was asked for (no chart, a
// bad version, a cloud without an overlay), as opposed to a chart that fails
// lint. Commands map it to the usage exit code.
var ErrInvalidOptions = errors.New("lint: invalid options")

// Options configures [Run]. Only ChartDir is required.
type Options struct {
	// ChartDir is the chart: its directory (the one holding Chart.yaml) or a
	// packaged chart (.tgz), which is expanded into a temporary directory
	// for the run.
	ChartDir string
	// ValuesFiles are applied after the cloud overlay, later files winning,
	// like repeated `helm --values`.
	ValuesFiles []string
	// KubeVersions to render for, e.g. "1.34.4". Empty: the matrix file's versions.
	KubeVersions []string
	// Clouds names the overlays <OverlayDir>/<cloud>.yaml to lint. Empty: every
	// overlay found; with no overlays at all, one cell named "default". A
	// cloud other than "default" on a chart without overlays is an error.
	Clouds []string
	// OverlayDir holds the cloud overlays, one <cloud>.yaml each; it must
	// exist. Empty: the directory that the nearest fixtures/overlays.yaml
	// walking up from the chart maps the chart to, else none. A chart's own
	// values/ directory is not read unless named so.
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
	// SpecDir optionally holds OpenAPI specs per Kubernetes version
	// (SpecDir/1.34.4/ with the api/openapi-spec files of k8s.io/kubernetes
	// v1.34.4), checked before that module, which `go mod download` fetches
	// through the Go module proxy.
	SpecDir string
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

// plan is Options resolved into what the run needs. Run must call cleanup
// when done with it.
type plan struct {
	// chartDir is the chart as named, absolute: a directory or a packaged
	// chart; Report.Chart.
	chartDir string
	// loadDir is the chart directory Helm reads: chartDir, or where the
	// packaged chart was expanded.
	loadDir string
	// tempDir is removed by cleanup; "" for a chart directory.
	tempDir     string
	namespace   string
	releaseName string
	overlays    []overlay
	versions    []kubeVersion
	apiVersions []string
	parallelism int
	specDir     string
}

// resolve validates the options and loads values and versions. The caller
// calls cleanup on the plan when done; on error there is nothing to clean up.
func (o Options) resolve() (plan, error) {
	chart, err := openChart(o.ChartDir)
	if err != nil {
		return plan{}, err
	}
	p, err := o.resolveFor(chart)
	if err != nil {
		p.cleanup()
		return plan{}, err
	}
	return p, nil
}

// resolveFor resolves the options for the opened chart.
func (o Options) resolveFor(chart chartSource) (plan, error) {
	p := plan{chartDir: chart.path, loadDir: chart.dir, tempDir: chart.temp,
		namespace: o.Namespace, releaseName: o.ReleaseName, parallelism: o.Parallelism, apiVersions: o.APIVersions, specDir: o.SpecDir}
	if p.namespace == "" {
		p.namespace = "default"
	}
	if p.releaseName == "" {
		p.releaseName = "shakedown"
	}

	var err error
	versions := o.KubeVersions
	if len(versions) == 0 {
		if versions, err = matrixVersions(o.MatrixFile, chart.home); err != nil {
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
	src, err := findOverlays(o.OverlayDir, chart)
	if err != nil {
		return p, err
	}
	p.overlays, err = loadOverlays(chart.path, src, o.Clouds, user)
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
			return nil, fmt.Errorf("%w: Kubernetes version %q: %v; use MAJOR.MINOR[.PATCH], e.g. 1.34.4", ErrInvalidOptions, t, err)
		}
		v := kubeVersion{text: t, helm: hv}
		if _, err := fmt.Sscanf(hv.Major+" "+hv.Minor, "%d %d", &v.major, &v.minor); err != nil {
			return nil, fmt.Errorf("lint: Kubernetes version %q: %w", t, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no Kubernetes version to lint for; pass e.g. --kubernetes 1.34.4", ErrInvalidOptions)
	}
	return out, nil
}
