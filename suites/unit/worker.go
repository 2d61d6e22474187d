package unit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/helm-unittest/helm-unittest/pkg/unittest"
	"github.com/helm-unittest/helm-unittest/pkg/unittest/results"
)

// The worker protocol, one JSON value per line. The parent sends a
// workerSetup, then one workerJob at a time; the worker answers each job with
// one workerResult. A worker discovers the suites itself, the same way as the
// parent, and finds a job's suites by their snapshot file.

type workerSetup struct {
	Options Options `json:"options"`
}

type workerJob struct {
	Chart       string `json:"chart"`
	KubeVersion string `json:"kubeVersion"`
	Key         string `json:"key"`
}

type workerResult struct {
	Suites []wireSuite `json:"suites"`
	Error  string      `json:"error,omitempty"`
}

// wireSuite is results.TestSuiteResult with errors as text.
type wireSuite struct {
	DisplayName string      `json:"displayName"`
	FilePath    string      `json:"filePath"`
	Passed      bool        `json:"passed"`
	Skipped     bool        `json:"skipped"`
	FailFast    bool        `json:"failFast"`
	ExecError   string      `json:"execError,omitempty"`
	Tests       []*wireCase `json:"tests"`
	Snapshots   [4]uint     `json:"snapshots"` // total, failed, created, vanished
}

// wireCase is results.TestJobResult with errors as text.
type wireCase struct {
	DisplayName string                     `json:"displayName"`
	Index       int                        `json:"index"`
	Passed      bool                       `json:"passed"`
	Skipped     bool                       `json:"skipped"`
	ExecError   string                     `json:"execError,omitempty"`
	Asserts     []*results.AssertionResult `json:"asserts"`
	Duration    time.Duration              `json:"duration"`
}

// WorkerGCPercent is the garbage collector setting of a worker process
// (unless GOGC is set): rendering charts allocates heavily and briefly, and
// the default of 100 spends a quarter of a unit run's CPU collecting
// (measured on the reference chart: 2.6 s of CPU at 100, 2.0 s at 400, for
// 70 MB more heap).
const WorkerGCPercent = 400

// ServeWorker runs suites for a parent [Run] in another process: it reads the
// setup and jobs from in and writes one result per job to out, until in ends.
// A program that sets Options.Worker runs it, as shakedown's hidden
// `unit-worker` command does. Being the process's whole job, it sets the
// collector to WorkerGCPercent unless GOGC is set.
func ServeWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(WorkerGCPercent)
	}
	dec := json.NewDecoder(in)
	enc := json.NewEncoder(out)
	var setup workerSetup
	if err := dec.Decode(&setup); err != nil {
		return fmt.Errorf("unit worker: read setup: %w (this command is started by `shakedown unit`, not by hand)", err)
	}
	p, err := setup.Options.resolve()
	if err != nil {
		return fmt.Errorf("unit worker: %w", err)
	}
	charts := p.loader()
	found := map[chartVersion]map[string][]*unittest.TestSuite{}
	for {
		var j workerJob
		if err := dec.Decode(&j); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("unit worker: read job: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res := p.serveJob(charts, found, j)
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("unit worker: write result: %w", err)
		}
	}
}

// chartVersion names one chart run: a chart at one Kubernetes version.
type chartVersion struct{ chart, version string }

// serveJob finds and runs the suites of one job; an engine panic becomes the
// job's error instead of ending the worker. found holds the suite groups of
// each chart run by snapshot file, discovered on first use.
func (p plan) serveJob(charts *chartCache, found map[chartVersion]map[string][]*unittest.TestSuite, j workerJob) (res workerResult) {
	defer func() {
		if r := recover(); r != nil {
			res = workerResult{Error: fmt.Sprintf("helm-unittest's engine panicked: %v", r)}
		}
	}()
	v, err := p.version(j.KubeVersion)
	if err != nil {
		return workerResult{Error: err.Error()}
	}
	cv := chartVersion{j.Chart, j.KubeVersion}
	if found[cv] == nil {
		_, groups, _, err := p.groups(charts, j.Chart, v)
		if err != nil {
			return workerResult{Error: err.Error()}
		}
		found[cv] = map[string][]*unittest.TestSuite{}
		for _, g := range groups {
			found[cv][snapshotKey(g[0])] = g
		}
	}
	suites, ok := found[cv][j.Key]
	if !ok {
		return workerResult{Error: fmt.Sprintf("no suites with snapshot file %s in %s (the worker found other suites than the parent)", j.Key, j.Chart)}
	}
	delete(found[cv], j.Key) // each group runs once: running spends its suites
	ch, err := charts.load(j.Chart)
	if err != nil {
		return workerResult{Error: err.Error()}
	}
	for _, r := range p.runGroup(suites, ch) {
		res.Suites = append(res.Suites, toWire(r))
	}
	return res
}

// version finds a resolved Kubernetes version by its text.
func (p plan) version(text string) (kubeVersion, error) {
	for _, v := range p.versions {
		if v.text == text {
			return v, nil
		}
	}
	return kubeVersion{}, fmt.Errorf("Kubernetes version %q is not in this run", text)
}

// runJobs runs the jobs on p.Parallelism consumers: this process (one suite
// at a time, the most the engine allows per process) and, when p.Worker is
// set, p.Parallelism-1 worker processes. Each free consumer takes the next
// job, largest first when there are several consumers. A worker that dies
// fails the job it held and is replaced for the next one; a worker that
// cannot start hands its job to this process and takes no more (noted in
// notes). With Failfast, no job starts after one has failed; once ctx ends,
// none starts at all and the jobs cut short are left without results.
func (p plan) runJobs(ctx context.Context, charts *chartCache, jobs []*job, notes *[]string) error {
	useWorkers := p.Worker != nil && p.Parallelism > 1 && len(jobs) > 1
	var setup []byte
	if useWorkers {
		var err error
		if setup, err = json.Marshal(workerSetup{Options: p.Options}); err != nil {
			return fmt.Errorf("unit: encode worker setup: %w", err)
		}
		setup = append(setup, '\n') // shared by the workers' goroutines: read-only from here
	}
	queue := jobs // one consumer: the order the suites were found, as helm-unittest runs them
	if useWorkers {
		queue = slices.Clone(jobs)
		slices.SortStableFunc(queue, func(a, b *job) int { return b.size() - a.size() })
	}
	next := make(chan *job)
	var (
		failed  atomic.Bool
		notesMu sync.Mutex
		wg      sync.WaitGroup
	)
	take := func() (*job, bool) {
		for j := range next {
			if !(p.Failfast && failed.Load()) && ctx.Err() == nil {
				return j, true
			}
		}
		return nil, false
	}
	done := func(j *job) {
		if j.results != nil && !j.passed() {
			failed.Store(true)
		}
	}
	wg.Go(func() {
		for j, ok := take(); ok; j, ok = take() {
			p.runHere(charts, j)
			done(j)
		}
	})
	for range min(p.Parallelism, len(jobs)) - 1 {
		if !useWorkers {
			break
		}
		wg.Go(func() {
			var w *workerProc
			defer func() { w.stop() }()
			for j, ok := take(); ok; j, ok = take() {
				if w == nil {
					started, err := startWorker(ctx, p.Worker, setup)
					if err != nil {
						notesMu.Lock()
						*notes = append(*notes, fmt.Sprintf("a unit worker could not start, so its suites ran in this process: %v", err))
						notesMu.Unlock()
						p.runHere(charts, j)
						done(j)
						return
					}
					w = started
				}
				if err := w.run(j); err != nil {
					w = nil // died() has reaped it
					if ctx.Err() != nil {
						j.results = nil // cut short by the interrupt, not failed
						return
					}
					j.fail(err)
				}
				done(j)
			}
		})
	}
	var err error
	for _, j := range queue {
		if p.Failfast && failed.Load() {
			break
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- j:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		err = fmt.Errorf("unit run stopped: %w", ctx.Err())
	}
	return err
}

// workerProc is one running worker process.
type workerProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *json.Decoder
	stderr *tailBuffer
}

// startWorker starts a worker and sends it the setup line.
func startWorker(ctx context.Context, newCmd func(context.Context) *exec.Cmd, setup []byte) (*workerProc, error) {
	cmd := newCmd(ctx)
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 5 * time.Second // a killed worker's pipes close within this
	}
	w := &workerProc{cmd: cmd}
	if cmd.Stderr == nil {
		w.stderr = &tailBuffer{max: 4096}
		cmd.Stderr = w.stderr
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("unit worker %s: %w", cmd.Path, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("unit worker %s: %w", cmd.Path, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start unit worker %s: %w", cmd.Path, err)
	}
	w.in, w.out = in, json.NewDecoder(out)
	if _, err := w.in.Write(setup); err != nil {
		return nil, w.died(err)
	}
	return w, nil
}

// run sends one job and reads its result into the job. An error means the
// worker is gone (and reaped); a job the worker could not run is failed in
// place and the worker kept.
func (w *workerProc) run(j *job) error {
	line, err := json.Marshal(workerJob{Chart: j.run.Path, KubeVersion: j.version.text, Key: j.key})
	if err != nil {
		return err
	}
	if _, err := w.in.Write(append(line, '\n')); err != nil {
		return w.died(err)
	}
	var res workerResult
	if err := w.out.Decode(&res); err != nil {
		return w.died(err)
	}
	if res.Error != "" { // the worker is fine; only this job could not run
		j.fail(errors.New(res.Error))
		return nil
	}
	for _, s := range res.Suites {
		j.results = append(j.results, fromWire(s))
	}
	return nil
}

// died explains a broken pipe to a worker with the worker's exit and stderr.
func (w *workerProc) died(err error) error {
	w.in.Close()
	waitErr := w.cmd.Wait()
	msg := fmt.Sprintf("unit worker %s stopped: %v", w.cmd.Path, err)
	if waitErr != nil {
		msg += " (" + waitErr.Error() + ")"
	}
	if w.stderr != nil && w.stderr.Len() > 0 {
		msg += "; its last output: " + w.stderr.String()
	}
	return errors.New(msg)
}

// stop ends a worker: closing its input lets it finish; nil is a no-op.
func (w *workerProc) stop() {
	if w == nil {
		return
	}
	w.in.Close()
	if w.cmd.ProcessState == nil {
		done := make(chan struct{})
		go func() { w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			w.cmd.Process.Kill()
			<-done
		}
	}
}

// fail records a job whose suites could not run: one errored result per suite.
func (j *job) fail(err error) {
	j.results = nil
	for _, s := range j.suites {
		j.results = append(j.results, &results.TestSuiteResult{DisplayName: s.Name, FilePath: suiteFile(s),
			ExecError: fmt.Errorf("suite did not run: %w", err)})
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(b)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(b), nil
}

func (t *tailBuffer) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.Len()
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

func toWire(r *results.TestSuiteResult) wireSuite {
	w := wireSuite{DisplayName: r.DisplayName, FilePath: r.FilePath, Passed: r.Passed, Skipped: r.Skipped,
		FailFast: r.FailFast, ExecError: errText(r.ExecError),
		Snapshots: [4]uint{r.SnapshotCounting.Total, r.SnapshotCounting.Failed, r.SnapshotCounting.Created, r.SnapshotCounting.Vanished}}
	for _, c := range r.TestsResult {
		if c == nil {
			w.Tests = append(w.Tests, nil)
			continue
		}
		w.Tests = append(w.Tests, &wireCase{DisplayName: c.DisplayName, Index: c.Index, Passed: c.Passed, Skipped: c.Skipped,
			ExecError: errText(c.ExecError), Asserts: c.AssertsResult, Duration: c.Duration})
	}
	return w
}

func fromWire(w wireSuite) *results.TestSuiteResult {
	r := &results.TestSuiteResult{DisplayName: w.DisplayName, FilePath: w.FilePath, Passed: w.Passed, Skipped: w.Skipped,
		FailFast: w.FailFast, ExecError: textErr(w.ExecError)}
	r.SnapshotCounting.Total, r.SnapshotCounting.Failed = w.Snapshots[0], w.Snapshots[1]
	r.SnapshotCounting.Created, r.SnapshotCounting.Vanished = w.Snapshots[2], w.Snapshots[3]
	for _, c := range w.Tests {
		if c == nil {
			r.TestsResult = append(r.TestsResult, nil)
			continue
		}
		r.TestsResult = append(r.TestsResult, &results.TestJobResult{DisplayName: c.DisplayName, Index: c.Index, Passed: c.Passed,
			Skipped: c.Skipped, ExecError: textErr(c.ExecError), AssertsResult: c.Asserts, Duration: c.Duration})
	}
	return r
}

func textErr(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}
