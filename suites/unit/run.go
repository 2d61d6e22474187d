package unit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/helm-unittest/helm-unittest/pkg/unittest"
	"github.com/helm-unittest/helm-unittest/pkg/unittest/results"
	"github.com/helm-unittest/helm-unittest/pkg/unittest/snapshot"
	v3chart "helm.sh/helm/v3/pkg/chart"
	v3loader "helm.sh/helm/v3/pkg/chart/loader"
)

// Run runs the suites of every chart in opts.Charts, once per Kubernetes
// version: one suite at a time in this process and, when opts.Worker is set,
// on opts.Parallelism-1 worker processes beside it. Findings (failed, errored and skipped
// cases, charts that could not be tested) are in the Report; the error only
// means the run could not happen (invalid options, wrapping
// ErrInvalidOptions) or was cut short by ctx, in which case the Report holds
// what finished.
func Run(ctx context.Context, opts Options) (Report, error) {
	start := time.Now()
	p, err := opts.resolve()
	if err != nil {
		return Report{}, err
	}
	var rep Report
	var jobs []*job
	charts := p.loader()
	for _, path := range p.Charts {
		for _, v := range p.versions {
			run := &ChartRun{Path: path, KubeVersion: v.text}
			rep.Runs = append(rep.Runs, run)
			name, groups, unusable, err := p.groups(charts, path, v)
			run.Chart, run.Suites, run.Error = name, unusable, err
			if err == nil && len(groups) == 0 && len(unusable) == 0 && v == p.versions[0] {
				rep.Notes = append(rep.Notes, fmt.Sprintf("chart %s: no suite file matches %v (pass -f with the suites' glob)", path, p.TestFiles))
			}
			for _, g := range groups {
				j := &job{run: run, version: v, key: snapshotKey(g[0]), suites: g}
				jobs = append(jobs, j)
				run.jobs = append(run.jobs, j)
			}
		}
	}
	err = p.runJobs(ctx, charts, jobs, &rep.Notes)
	for _, r := range rep.Runs {
		missing := 0
		for _, j := range r.jobs {
			r.Suites = append(r.Suites, j.results...)
			if j.results == nil {
				missing += len(j.suites)
			}
		}
		if missing > 0 && err != nil && r.Error == nil {
			r.Error = fmt.Errorf("interrupted: %d suites did not run or finish", missing)
		}
	}
	rep.Duration = time.Since(start)
	return rep, err
}

// job is the suites that share one snapshot file (the documents of one suite
// file), which run in order in one process.
type job struct {
	run     *ChartRun
	version kubeVersion
	key     string // the snapshot file, unique per chart run
	suites  []*unittest.TestSuite
	results []*results.TestSuiteResult
}

// chartCache loads each chart once per process.
type chartCache struct {
	mu     sync.Mutex
	skip   bool // drop values schemas (SkipSchemaValidation)
	charts map[string]*v3chart.Chart
	errs   map[string]error
}

func (p plan) loader() *chartCache {
	return &chartCache{skip: p.SkipSchemaValidation, charts: map[string]*v3chart.Chart{}, errs: map[string]error{}}
}

// load returns the chart at path, loading it on first use.
func (c *chartCache) load(path string) (*v3chart.Chart, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.charts[path]; ok {
		return ch, c.errs[path]
	}
	ch, err := v3loader.Load(path)
	if err != nil {
		err = fmt.Errorf("load chart %s: %w (pass a chart directory holding Chart.yaml, or a packaged .tgz)", path, err)
	} else if c.skip {
		dropSchemas(ch)
	}
	c.charts[path], c.errs[path] = ch, err
	return ch, err
}

// groups discovers the suites of one chart for one Kubernetes version and
// groups them by snapshot file. Suites are parsed afresh per version: running
// a suite fills in its cases, so one parse cannot serve two versions. It also
// returns the chart's name and the suite files that do not parse, as errored
// results.
func (p plan) groups(charts *chartCache, path string, v kubeVersion) (string, [][]*unittest.TestSuite, []*results.TestSuiteResult, error) {
	ch, err := charts.load(path)
	if err != nil {
		return "", nil, nil, err
	}
	d, err := p.discover(path, ch)
	if err != nil {
		return ch.Name(), nil, d.unusable, err
	}
	groups := bySnapshotFile(d.suites)
	for _, g := range groups {
		for _, s := range g {
			v.apply(s)
		}
	}
	return ch.Name(), groups, d.unusable, nil
}

// runHere runs one job in this process.
func (p plan) runHere(charts *chartCache, j *job) {
	ch, err := charts.load(j.run.Path)
	if err != nil {
		j.fail(err) // loaded once already during discovery; cannot differ
		return
	}
	j.finish(p.runGroup(j.suites, ch))
}

// runGroup runs the suites of one group in order; with Failfast it stops
// after the first failed suite.
func (p plan) runGroup(suites []*unittest.TestSuite, ch *v3chart.Chart) []*results.TestSuiteResult {
	var out []*results.TestSuiteResult
	for _, s := range suites {
		res := p.runSuite(s, ch)
		out = append(out, res)
		if !res.Passed && p.Failfast {
			break
		}
	}
	return out
}

// runSuite runs one suite with the engine against its snapshot file. The file
// is written only with UpdateSnapshots.
func (p plan) runSuite(s *unittest.TestSuite, ch *v3chart.Chart) (res *results.TestSuiteResult) {
	cache, err := p.snapshotCache(s.SnapshotFileUrl())
	if err != nil {
		return &results.TestSuiteResult{DisplayName: s.Name, FilePath: suiteFile(s), ExecError: err}
	}
	withEngine(func() {
		defer func() {
			if r := recover(); r != nil {
				res = &results.TestSuiteResult{DisplayName: s.Name, FilePath: suiteFile(s),
					ExecError: fmt.Errorf("helm-unittest's engine panicked on this suite: %v", r)}
			}
		}()
		res = s.RunV3(ch, cache, p.Failfast, "", &results.TestSuiteResult{})
	})
	if res.ExecError != nil && res.TestsResult == nil {
		return res // panicked: nothing ran, nothing to store
	}
	if p.UpdateSnapshots {
		if _, err := cache.StoreToFileIfNeeded(); err != nil {
			res.Passed = false
			res.ExecError = fmt.Errorf("write snapshot %s: %w", cache.Filepath, err)
		}
	}
	return res
}

// suiteFile is the file a suite was read from (its snapshot file name without
// the snapshot id that rendered suites append).
func suiteFile(s *unittest.TestSuite) string {
	if s.SnapshotId != "" {
		return strings.TrimSuffix(s.SnapshotFileUrl(), "_"+s.SnapshotId)
	}
	return s.SnapshotFileUrl()
}

// snapshotCache opens the snapshot file of a suite: through the engine (which
// creates __snapshot__/) when updating, else read-only.
func (p plan) snapshotCache(suiteFile string) (*snapshot.Cache, error) {
	if p.UpdateSnapshots {
		return snapshot.CreateSnapshotOfSuite(suiteFile, true)
	}
	c := &snapshot.Cache{Filepath: filepath.Join(filepath.Dir(suiteFile), "__snapshot__", filepath.Base(suiteFile)+".snap")}
	if err := c.RestoreFromFile(); err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", c.Filepath, err)
	}
	return c, nil
}

// size is how many cases a job holds, to start the largest first.
func (j *job) size() int {
	n := 0
	for _, s := range j.suites {
		n += len(s.Tests)
	}
	return n
}

// finish stores the results of a job.
func (j *job) finish(rs []*results.TestSuiteResult) { j.results = rs }

// passed reports whether every suite of a finished job passed.
func (j *job) passed() bool {
	for _, r := range j.results {
		if !r.Passed {
			return false
		}
	}
	return true
}

// apply sets the version as the suite's Kubernetes version where the suite
// does not set one (a case's own setting still wins over both).
func (v kubeVersion) apply(s *unittest.TestSuite) {
	if v.text == "" {
		return
	}
	if s.Capabilities.MajorVersion == "" && s.Capabilities.MinorVersion == "" {
		s.Capabilities.MajorVersion, s.Capabilities.MinorVersion = v.major, v.minor
	}
}

// bySnapshotFile groups suites that share a snapshot file, keeping the order
// of first appearance and the order within each group.
func bySnapshotFile(suites []*unittest.TestSuite) [][]*unittest.TestSuite {
	index := map[string]int{}
	var groups [][]*unittest.TestSuite
	for _, s := range suites {
		key := snapshotKey(s)
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], s)
	}
	return groups
}

// snapshotKey is the absolute snapshot file of a suite.
func snapshotKey(s *unittest.TestSuite) string {
	key := s.SnapshotFileUrl()
	if abs, err := filepath.Abs(key); err == nil {
		key = abs
	}
	return key
}

// dropSchemas removes values.schema.json from a chart and its dependencies, so
// rendering skips validation (the engine's own switch is not exported).
func dropSchemas(ch *v3chart.Chart) {
	ch.Schema = nil
	for _, d := range ch.Dependencies() {
		dropSchemas(d)
	}
}
