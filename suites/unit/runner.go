package unit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// runner runs suites of one chart, sharing renders between cases.
type runner struct {
	chart       *chart.Chart
	update      bool
	parallelism int
	renders     *renderCache
	snapshots   []*snapshotCache
}

// runSuite loads and runs one suite file, cases in parallel.
func (r *runner) runSuite(ctx context.Context, file string) SuiteResult {
	start := time.Now()
	s, err := loadSuite(file)
	if err != nil {
		return SuiteResult{Name: filepath.Base(file), File: file, Error: err}
	}
	snaps, err := openSnapshots(file, r.update)
	if err != nil {
		return SuiteResult{Name: s.Name, File: file, Error: err}
	}
	r.snapshots = append(r.snapshots, snaps)
	res := SuiteResult{Name: s.Name, File: file, Tests: make([]TestResult, len(s.Tests)), Passed: true}
	sem := make(chan struct{}, r.parallelism)
	var wg sync.WaitGroup
	for i, j := range s.Tests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res.Tests[i] = r.runJob(ctx, s, j, snaps)
		}()
	}
	wg.Wait()
	if err := snaps.store(); err != nil {
		res.Error = err
	}
	for _, t := range res.Tests {
		if !t.Passed {
			res.Passed = false
		}
	}
	if res.Error != nil {
		res.Passed = false
	}
	res.Duration = time.Since(start)
	return res
}

// runJob renders the chart for one case and runs its assertions.
func (r *runner) runJob(ctx context.Context, s *suite, j *job, snaps *snapshotCache) TestResult {
	start := time.Now()
	res := TestResult{Name: j.It}
	if j.Skip.Reason != "" {
		res.Passed = true
		return res
	}
	vals, err := userValues(filepath.Dir(s.file), append(append([]string{}, s.Values...), j.Values...), s.Set, j.Set)
	if err != nil {
		res.Error = fmt.Errorf("%q: %w", j.It, err)
		return res
	}
	kept := selectTemplates(r.chart, s, j)
	in := renderInput{
		Templates:    kept,
		Values:       vals,
		Release:      j.Release.over(s.Release),
		Capabilities: j.Capabilities.over(s.Capabilities),
		Chart:        j.Chart.over(s.Chart),
	}
	for _, k := range kept {
		in.Asserted = append(in.Asserted, r.chart.Name()+"/"+k)
	}
	out, err := r.renders.render(ctx, r.chart, in)
	if err != nil {
		res.Error = fmt.Errorf("%q: %w", j.It, err)
		return res
	}
	var counter uint
	var mu sync.Mutex
	snap := func(v any) snapshotCompare {
		mu.Lock()
		counter++
		idx := counter
		mu.Unlock()
		return snaps.compare(j.It, idx, v)
	}
	res.Passed = true
	for i, a := range j.Asserts {
		ar := r.runAssert(s, j, a, kept, out, snap)
		ar.Index = i
		if !ar.Passed {
			res.Passed = false
		}
		res.Asserts = append(res.Asserts, ar)
	}
	res.Duration = time.Since(start)
	return res
}

// runAssert checks one assertion against the rendered files it targets.
func (r *runner) runAssert(s *suite, j *job, a *assertion, kept []string, out *rendered, snap func(any) snapshotCompare) AssertResult {
	res := AssertResult{Type: a.Type, Not: a.Not}
	names, wildcard := assertTargets(r.chart.Name(), s, j, a, kept)
	byTpl := map[string][]*document{}
	var missing []string
	for _, n := range names {
		docs, ok := out.docs[n]
		switch {
		case !ok && !out.failed:
			missing = append(missing, n)
		case wildcard && len(docs) == 0 && !out.failed:
			// a pattern matched a file that rendered nothing: skip it
		default:
			byTpl[n] = docs
		}
	}
	if len(missing) > 0 && a.def.needsRender {
		res.Info = errorInfo("template %q not exists or not selected in test suite", missing[0])
		return res
	}
	neg := a.Not != a.def.antonym
	if out.failed && a.def.needsRender && !(a.Type == "notFailedTemplate") {
		res.Info = errorInfo("render failed: %s", renderMessage(out))
		return res
	}
	sel := a.DocumentSelector
	idx := a.DocumentIndex
	if sel == nil && idx == nil {
		sel, idx = j.DocumentSelector, j.DocumentIndex
	}
	selected := byTpl
	if !out.failed {
		var err error
		switch {
		case sel != nil:
			selected, err = sel.selectDocs(byTpl)
		case idx != nil:
			selected, err = selectByIndex(*idx, byTpl)
		}
		if err != nil {
			res.Info = errorInfo("%v", err)
			return res
		}
	}
	tpls := make([]string, 0, len(selected))
	for n := range selected {
		tpls = append(tpls, n)
	}
	sort.Strings(tpls)
	if len(tpls) == 0 {
		// Nothing to look at: only failedTemplate (on an unattributed
		// error) can still decide.
		c := &vctx{template: fmt.Sprint(names), negative: neg, failed: out.failed, renderErr: out.err, snapshot: snap}
		if a.def.needsRender && a.Type != "notFailedTemplate" {
			res.Info = errorInfo("no template rendered a document for this assertion (targets %v)", names)
			return res
		}
		res.Passed, res.Info = a.def.validate(a, c)
		return res
	}
	res.Passed = true
	for _, n := range tpls {
		c := &vctx{template: n, docs: byTpl[n], selected: selected[n], negative: neg, failed: out.failed, renderErr: out.err, snapshot: snap}
		ok, info := a.def.validate(a, c)
		if !ok {
			res.Passed = false
			res.Info = append(res.Info, "Template:\t"+n)
			res.Info = append(res.Info, info...)
		}
	}
	return res
}

// renderMessage is the text of a failed render.
func renderMessage(out *rendered) string {
	if out.err != nil {
		return out.err.Error()
	}
	for n, docs := range out.docs {
		for _, d := range docs {
			if s, ok := d.raw(); ok {
				return n + ": " + s
			}
		}
	}
	return "unknown error"
}

// renderCache shares identical renders between cases of a run.
type renderCache struct {
	mu      sync.Mutex
	entries map[string]*renderEntry
}

type renderEntry struct {
	once sync.Once
	out  *rendered
	err  error
}

func newRenderCache() *renderCache {
	return &renderCache{entries: map[string]*renderEntry{}}
}

// render returns the cached render for in, rendering it once.
func (c *renderCache) render(ctx context.Context, ch *chart.Chart, in renderInput) (*rendered, error) {
	key, err := json.Marshal(in)
	if err != nil {
		return renderChart(ctx, ch, in)
	}
	c.mu.Lock()
	e, ok := c.entries[string(key)]
	if !ok {
		e = &renderEntry{}
		c.entries[string(key)] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.out, e.err = renderChart(ctx, ch, in) })
	return e.out, e.err
}
