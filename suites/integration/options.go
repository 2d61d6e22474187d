package integration

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options configure [Run].
type Options struct {
	// ChartDir is the working-tree chart: dry-run and upgrade target.
	ChartDir string
	// From is the previous release installed first, then upgraded from: a
	// chart directory, a packaged .tgz or a git ref of the repository holding
	// ChartDir. Empty installs ChartDir and upgrades it to itself.
	From string
	// KubeVersions to run on, one cluster each (required).
	KubeVersions []string
	// Clouds are the overlays (CHART/values/<cloud>.yaml); empty means every
	// overlay of ChartDir but LocalImages; "none" means the chart's defaults only.
	Clouds []string
	// ValuesFiles are applied after the overlay, later files win.
	ValuesFiles []string
	// Values are applied last.
	Values map[string]any
	// Start provides the cluster of each version (required).
	Start ClusterStarter
	// Steps to run, in AllSteps order; empty means AllSteps().
	Steps []Step
	// ReleaseName defaults to "rs".
	ReleaseName string
	// StepTimeout bounds each step; zero means DefaultTimeout.
	StepTimeout time.Duration
	// Parallel is how many versions run at once; zero picks by free memory.
	Parallel int
	// Log receives one line per finished step; nil discards.
	Log io.Writer
	// Traffic, when set, adds StepTraffic: events sent to each installed release
	// through port-forwards, checked stored. It needs pods that really run (a real
	// node, or a real cluster), not kwok's fake ones.
	Traffic Traffic
}

// NoCloud runs the chart with its default values only.
const NoCloud = "none"

// LocalImages is the overlay (values/local-images.yaml) for a node whose runtime holds
// images built on this machine, never pulled. It is not one of the default clouds:
// anywhere else its pods could not start.
const LocalImages = "local-images"

// withDefaults validates o and fills defaults.
func (o Options) withDefaults() (Options, error) {
	if o.ChartDir == "" {
		return o, fmt.Errorf("integration: no chart directory (fix: set Options.ChartDir)")
	}
	if _, err := os.Stat(filepath.Join(o.ChartDir, "Chart.yaml")); err != nil {
		return o, fmt.Errorf("integration: %s is not a chart directory: %w (fix: point at a directory with Chart.yaml)", o.ChartDir, err)
	}
	if len(o.KubeVersions) == 0 {
		return o, fmt.Errorf("integration: no Kubernetes versions (fix: set Options.KubeVersions, e.g. from fixtures/kubernetes.yaml)")
	}
	if o.Start == nil {
		return o, fmt.Errorf("integration: no cluster provider (fix: set Options.Start)")
	}
	if len(o.Clouds) == 0 {
		clouds, err := overlays(o.ChartDir)
		if err != nil {
			return o, err
		}
		o.Clouds = clouds
	}
	if len(o.Steps) == 0 {
		o.Steps = AllSteps()
		if o.Traffic != nil {
			o.Steps = stepOrder()
		}
	}
	for _, s := range o.Steps {
		if !slices.Contains(stepOrder(), s) {
			return o, fmt.Errorf("integration: unknown step %q (fix: use one of %v)", s, stepOrder())
		}
		if s == StepTraffic && o.Traffic == nil {
			return o, fmt.Errorf("integration: step %q needs Options.Traffic and pods that really run (fix: use a real node, --nodes real, or drop the step)", s)
		}
	}
	if o.ReleaseName == "" {
		o.ReleaseName = "rs"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o, nil
}

// overlays lists the clouds of a chart directory's values/*.yaml, or
// NoCloud when it has none.
func overlays(chartDir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(chartDir, "values", "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("integration: list overlays of %s: %w", chartDir, err)
	}
	if len(files) == 0 {
		return []string{NoCloud}, nil
	}
	var clouds []string
	for _, f := range files {
		cloud := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if cloud == LocalImages {
			continue // only where the images were built: asked for by name (--cloud) or by real nodes
		}
		clouds = append(clouds, cloud)
	}
	if len(clouds) == 0 {
		return []string{NoCloud}, nil
	}
	return clouds, nil
}
