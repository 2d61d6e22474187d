package unit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// Run loads the chart in opts.ChartDir, runs every suite matched by
// opts.TestGlobs, prints helm-unittest style output to opts.Out and writes
// JUnit XML to opts.JUnitPath when set. The error is for problems running
// at all (no chart, no suites, unwritable report); failing tests are
// reported in Result.Passed.
func Run(ctx context.Context, opts Options) (Result, error) {
	start := time.Now()
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	ch, err := loader.LoadDir(opts.ChartDir)
	if err != nil {
		return Result{}, fmt.Errorf("load chart %s: %w (point at the directory holding Chart.yaml)", opts.ChartDir, err)
	}
	files, err := suiteFiles(opts.ChartDir, opts.TestGlobs)
	if err != nil {
		return Result{}, err
	}
	par := opts.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	r := &runner{chart: ch, update: opts.UpdateSnapshots, parallelism: par, renders: newRenderCache()}

	res := Result{Passed: true}
	fmt.Fprintf(out, "\n### Chart [ %s ] %s\n\n", ch.Name(), opts.ChartDir)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("unit run stopped: %w", err)
		}
		sr := r.runSuite(ctx, f)
		res.add(sr)
		printSuite(out, sr)
	}
	for _, sc := range r.snapshots {
		res.SnapshotsCreated += sc.inserted
		res.SnapshotsFailed += sc.failed()
		res.SnapshotsPassed += sc.compared - sc.failed()
	}
	res.Duration = time.Since(start)
	printSummary(out, res)
	if opts.JUnitPath != "" {
		if err := writeJUnit(opts.JUnitPath, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// add folds a suite's outcome into the totals.
func (r *Result) add(sr SuiteResult) {
	r.Suites = append(r.Suites, sr)
	if sr.Passed {
		r.SuitesPassed++
	} else {
		r.SuitesFailed++
		r.Passed = false
	}
	for _, t := range sr.Tests {
		if t.Passed {
			r.TestsPassed++
		} else {
			r.TestsFailed++
		}
	}
}

// suiteFiles expands the globs (relative to the chart) into sorted files.
func suiteFiles(chartDir string, globs []string) ([]string, error) {
	if len(globs) == 0 {
		globs = []string{DefaultTestGlob}
	}
	seen := map[string]bool{}
	var files []string
	for _, g := range globs {
		if !filepath.IsAbs(g) {
			g = filepath.Join(chartDir, g)
		}
		matches, err := filepath.Glob(g)
		if err != nil {
			return nil, fmt.Errorf("bad test glob %q: %w", g, err)
		}
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && !st.IsDir() && !seen[m] {
				seen[m] = true
				files = append(files, m)
			}
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no test suite found under " + chartDir + " for " + fmt.Sprint(globs) + " (write tests/*_test.yaml or pass -f)")
	}
	sort.Strings(files)
	return files, nil
}
