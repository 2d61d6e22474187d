package lint

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/shakedown-dev/shakedown/suites/lint/kubeschema"
)

// Run lints the chart of opts for every cloud overlay × Kubernetes version.
// Findings go into the Report; the error is for runs that could not happen
// (no chart, unreadable values files, bad versions, cancelled context).
func Run(ctx context.Context, opts Options) (Report, error) {
	p, err := opts.resolve()
	if err != nil {
		return Report{}, err
	}
	defer p.cleanup()
	l, err := newLinter(p)
	if err != nil {
		return Report{}, err
	}
	// Cells run version by version, and each drops its objects when done, so
	// memory depends on the cells running at once, not on the matrix's size.
	var cells []*cellRun
	for _, v := range p.versions {
		for _, ov := range p.overlays {
			cells = append(cells, l.newCell(ov, v))
		}
		l.remaining[v.text] = &atomic.Int32{}
		l.remaining[v.text].Store(int32(len(p.overlays)))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, cmp.Or(p.parallelism, runtime.GOMAXPROCS(0))))
	for _, c := range cells {
		g.Go(func() error { return c.run(gctx) })
	}
	if err := g.Wait(); err != nil {
		return Report{}, err
	}
	return l.report(cells), nil
}

// newLinter loads what every cell shares.
func newLinter(p plan) (*linter, error) {
	l := &linter{plan: p, rules: ruleIndex(), schemas: kubeschema.NewSource(kubeschema.SourceOptions{Dir: p.specDir}),
		remaining: map[string]*atomic.Int32{}, helmRuns: map[string]*helmLintRun{}}
	for _, ov := range p.overlays {
		l.helmRuns[ov.cloud] = &helmLintRun{}
	}
	var err error
	if l.scheme, err = newScheme(); err != nil {
		return nil, err
	}
	if l.apis, err = loadAPITable(); err != nil {
		return nil, err
	}
	if l.storage, err = loadStorageTable(); err != nil {
		return nil, err
	}
	return l, nil
}

// newCell prepares the cell of one overlay on one version.
func (l *linter) newCell(ov overlay, v kubeVersion) *cellRun {
	return &cellRun{linter: l, cell: Cell{Cloud: ov.cloud, KubeVersion: v.text}, version: v, values: ov.values, waiverUse: map[string]int{}}
}

// run lints one cell.
func (c *cellRun) run(ctx context.Context) error {
	defer c.done() // even when cancelled, so the version's spec is released
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lint: %s: %w", c.cell, err)
	}
	c.helmLint()
	files, ok := c.render(ctx)
	if !ok {
		return ctx.Err()
	}
	spec := c.specFor(ctx)
	for _, f := range files {
		c.decodeFile(f.name, f.content)
	}
	c.checkSchemas(spec)
	c.checkAPIs(spec)
	c.checkServerRules()
	c.checkServerValidation()
	c.checkSelectors()
	c.checkServices()
	c.checkDuplicates()
	c.checkContainers()
	c.checkPodHostAccess()
	c.checkPDBs()
	c.checkNetworkPolicies()
	c.checkStorage()
	c.declaredWaivers = c.waivers()
	c.objectCount, c.objects = len(c.objects), nil
	return ctx.Err()
}

// done releases the version's spec after the last cell of the version.
func (c *cellRun) done() {
	if n := c.remaining[c.version.text]; n != nil && n.Add(-1) == 0 {
		c.schemas.Release(c.version.text)
	}
}

// report merges the cells' findings and waivers.
func (l *linter) report(cells []*cellRun) Report {
	r := Report{Chart: l.plan.chartDir, Rules: Rules()}
	for _, ov := range l.plan.overlays {
		r.Clouds = append(r.Clouds, ov.cloud)
	}
	for _, v := range l.plan.versions {
		r.KubeVersions = append(r.KubeVersions, v.text)
	}
	byKey := map[string]int{}
	waiverAt := map[string]int{}
	for _, c := range cells {
		r.Objects += c.objectCount
		for _, f := range c.findings {
			k := f.key()
			if i, ok := byKey[k]; ok {
				if !slices.Contains(r.Findings[i].Cells, c.cell) {
					r.Findings[i].Cells = append(r.Findings[i].Cells, c.cell)
				}
				continue
			}
			byKey[k] = len(r.Findings)
			r.Findings = append(r.Findings, f)
		}
		for _, w := range c.declaredWaivers {
			k := waiverKey(w.Object, w.File, w.Rule)
			if i, ok := waiverAt[k]; ok {
				r.Waivers[i].Used += w.Used
				continue
			}
			waiverAt[k] = len(r.Waivers)
			r.Waivers = append(r.Waivers, w)
		}
	}
	slices.SortStableFunc(r.Findings, compareFindings)
	return r
}

// compareFindings orders by outcome (errors first, waived last), file, object, rule.
func compareFindings(a, b Finding) int {
	rank := func(f Finding) int {
		if f.Waived {
			return 3
		}
		return f.Severity.rank()
	}
	if d := rank(a) - rank(b); d != 0 {
		return d
	}
	for _, pair := range [][2]string{{a.File, b.File}, {a.Object.Kind, b.Object.Kind}, {a.Object.Name, b.Object.Name}, {a.Rule, b.Rule}} {
		if d := strings.Compare(pair[0], pair[1]); d != 0 {
			return d
		}
	}
	return 0
}
