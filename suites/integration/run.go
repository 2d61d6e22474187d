package integration

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Run runs the flow for every Kubernetes version × cloud: versions in
// parallel (as many as memory allows, or Options.Parallel), clouds of one
// version one after another in a namespace each. Failed steps are rows in
// the Report, not errors; the error is for bad options.
func Run(ctx context.Context, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	tmp, err := os.MkdirTemp("", "shakedown-integration-")
	if err != nil {
		return Report{}, fmt.Errorf("integration: temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	from, err := resolveFrom(ctx, o, tmp)
	if err != nil {
		return Report{}, err
	}
	started := time.Now()
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = parallelVersions(len(o.KubeVersions))
	}
	var (
		mu   sync.Mutex
		rows []Row
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallel)
	)
	add := func(r Row) {
		mu.Lock()
		defer mu.Unlock()
		rows = append(rows, r)
		fmt.Fprintf(o.Log, "%s %s %s/%s: %s in %s%s\n", time.Now().UTC().Format("15:04:05"), r.Step, r.KubeVersion, orDash(r.Cloud), r.Status, r.Duration.Round(10*time.Millisecond), firstLine(r.Message))
	}
	for _, v := range o.KubeVersions {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				add(Row{KubeVersion: v, Step: StepCluster, Status: StatusFail, Message: ctx.Err().Error()})
				return
			}
			runVersion(ctx, o, from, v, add)
		})
	}
	wg.Wait()
	sortRows(rows)
	return Report{Chart: o.ChartDir, From: o.From, Rows: rows, Duration: time.Since(started)}, nil
}

// resolveFrom turns Options.From into a path loadable per cell: git refs are
// extracted once into tmp.
func resolveFrom(ctx context.Context, o Options, tmp string) (string, error) {
	if o.From == "" {
		return o.ChartDir, nil
	}
	if _, err := os.Stat(o.From); err == nil {
		return o.From, nil
	}
	return chartAtGitRef(ctx, o.From, o.ChartDir, tmp)
}

// runVersion starts one version's cluster and runs every cloud on it.
func runVersion(ctx context.Context, o Options, from, version string, add func(Row)) {
	t0 := time.Now()
	cl, err := o.Start(ctx, version)
	if err != nil {
		add(Row{KubeVersion: version, Step: StepCluster, Status: StatusFail, Duration: time.Since(t0),
			Message: fmt.Sprintf("start cluster %s: %v", version, err)})
		return
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = cl.Close(cctx)
	}()
	add(Row{KubeVersion: version, Step: StepCluster, Status: StatusPass, Duration: time.Since(t0), Message: "server " + cl.Version()})
	for _, cloud := range o.Clouds {
		c := &cell{opts: o, from: from, version: version, cloud: cloud, cluster: cl, add: add}
		c.run(ctx)
	}
}

// sortRows orders rows by version, cloud, then step order.
func sortRows(rows []Row) {
	order := map[Step]int{StepCluster: -1}
	for i, s := range stepOrder() {
		order[s] = i
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		switch {
		case a.KubeVersion != b.KubeVersion:
			return compareVersions(a.KubeVersion, b.KubeVersion)
		case a.Cloud != b.Cloud:
			if a.Cloud < b.Cloud {
				return -1
			}
			return 1
		}
		return order[a.Step] - order[b.Step]
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
