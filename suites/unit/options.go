package unit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// DefaultTestFile is the suite glob used when Options.TestFiles is empty,
// relative to each chart (helm-unittest's default).
const DefaultTestFile = "tests/*_test.yaml"

// ErrInvalidOptions marks an error in how the run was asked for (a bad
// version, a flag combination that cannot work), as opposed to a chart or a
// suite that failed. Commands map it to the usage exit code.
var ErrInvalidOptions = errors.New("invalid unit options")

// Options configures [Run]. Only Charts is required; every other zero value
// means helm-unittest's default.
type Options struct {
	// Charts are chart directories or packaged charts (.tgz), run in order.
	Charts []string
	// TestFiles are suite globs relative to each chart (and to each
	// subchart), `**` matching any depth; absolute paths are taken as they
	// are. Empty: DefaultTestFile. (helm-unittest -f)
	TestFiles []string
	// ValuesFiles are applied to every suite after the suite's own values.
	// (helm-unittest -v)
	ValuesFiles []string
	// ChartTestsPath is a chart, relative to each chart, whose rendered
	// templates are suites. Empty: none. (--chart-tests-path)
	ChartTestsPath string
	// SkipSubcharts leaves out the suites of charts under charts/. Zero:
	// they run when their dependency is enabled, as with helm-unittest's
	// default --with-subchart=true.
	SkipSubcharts bool
	// UpdateSnapshots writes __snapshot__ files. Zero: snapshot files are
	// only read: never created, rewritten or pruned. (-u)
	UpdateSnapshots bool
	// Strict refuses unknown fields in suite files. (--strict)
	Strict bool
	// Failfast stops scheduling suites after the first failure. (-q)
	Failfast bool
	// SkipSchemaValidation renders without checking values.schema.json.
	SkipSchemaValidation bool
	// KubeVersions runs every suite once per Kubernetes version, e.g.
	// "1.34.4", as .Capabilities.KubeVersion wherever a suite or a case does
	// not set its own. The engine renders MAJOR.MINOR.0 (a case can only set
	// major and minor), so versions that differ only in the patch are one
	// run. Empty: one run with helm-unittest's default.
	KubeVersions []string
	// Parallelism is how many suites run at once: one in this process and
	// the rest on worker processes, when Worker is set. Zero: GOMAXPROCS.
	Parallelism int
	// Worker starts one worker process: a command that runs [ServeWorker] on
	// its standard input and output (the shakedown binary's hidden
	// `unit-worker` command does). Nil: suites run one at a time in this
	// process. Parallel runs need separate processes because the engine
	// keeps each render's capabilities in a Helm package variable
	// (chartutil.DefaultCapabilities), so two renders in one process would
	// see each other's Kubernetes and API versions.
	Worker func(ctx context.Context) *exec.Cmd `json:"-"`
}

// kubeVersion is one entry of Options.KubeVersions, parsed.
type kubeVersion struct {
	text         string
	major, minor string
}

// plan is Options checked and defaulted.
type plan struct {
	Options
	versions []kubeVersion
}

// resolve fills defaults and validates the options.
func (o Options) resolve() (plan, error) {
	p := plan{Options: o}
	if len(o.Charts) == 0 {
		return p, fmt.Errorf("%w: no chart given; pass a chart directory (the one holding Chart.yaml) or a packaged .tgz", ErrInvalidOptions)
	}
	// A chart or version given twice would run its suites twice: the worker
	// processes find a job's suites by chart and version, and -u would
	// write the same snapshot files from two processes.
	p.Charts = nil
	seen := map[string]bool{}
	for _, c := range o.Charts {
		if _, err := os.Stat(c); err != nil {
			return p, fmt.Errorf("%w: chart %s: %v; pass a chart directory (the one holding Chart.yaml) or a packaged .tgz", ErrInvalidOptions, c, err)
		}
		abs, err := filepath.Abs(c)
		if err != nil {
			return p, fmt.Errorf("%w: chart %s: %v", ErrInvalidOptions, c, err)
		}
		if !seen[abs] {
			seen[abs] = true
			p.Charts = append(p.Charts, c)
		}
	}
	if len(p.TestFiles) == 0 {
		p.TestFiles = []string{DefaultTestFile}
	}
	if p.Parallelism <= 0 {
		p.Parallelism = runtime.GOMAXPROCS(0)
	}
	for _, raw := range o.KubeVersions {
		text := strings.TrimPrefix(strings.TrimSpace(raw), "v")
		v, err := semver.NewVersion(text)
		if err != nil {
			return p, fmt.Errorf("%w: Kubernetes version %q: %v; write it as MAJOR.MINOR[.PATCH], e.g. 1.34.4", ErrInvalidOptions, raw, err)
		}
		kv := kubeVersion{text: text, major: strconv.FormatUint(v.Major(), 10), minor: strconv.FormatUint(v.Minor(), 10)}
		if !slices.ContainsFunc(p.versions, func(o kubeVersion) bool { return o.major == kv.major && o.minor == kv.minor }) {
			p.versions = append(p.versions, kv)
		}
	}
	if o.UpdateSnapshots && len(p.versions) > 1 {
		return p, fmt.Errorf("%w: -u with %d Kubernetes versions would write each suite's snapshots once per version; update with one version, then compare across all", ErrInvalidOptions, len(p.versions))
	}
	if len(p.versions) == 0 {
		p.versions = []kubeVersion{{}}
	}
	return p, nil
}
