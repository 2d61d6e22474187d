package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/shakedown-dev/shakedown/internal/chconn"
	"github.com/shakedown-dev/shakedown/internal/junit"
	"github.com/shakedown-dev/shakedown/internal/phclient"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/loadgen"
	"github.com/shakedown-dev/shakedown/loadgen/distributed"
	"github.com/shakedown-dev/shakedown/loadgen/load"
	"github.com/shakedown-dev/shakedown/loadgen/pace"
	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/report"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

type loadFlags struct {
	target, token, state   string
	rate                   float64
	duration               time.Duration
	pacer, steps           string
	rampFrom, sineAmp      float64
	sinePeriod             time.Duration
	thresholds, reports    []string
	out                    string
	seed                   uint64
	kinds, encodings       string
	sampleEvery            uint64
	clickhouse, chDatabase string
	chUser, chPassword     string
	e2eTimeout             time.Duration
	pool                   int
	prebuildMemory         string
	maxWorkers             uint64
	timeout                time.Duration
	workers                int
	kubeconfig, namespace  string
	workerImage, jobName   string
	workerIndex            int
	resultOut              string
	durationSet            bool
	untilInterrupted       bool
}

// newLoadCmd builds `shakedown load`: an open-model load attack of realistic
// PostHog traffic with coordinated-omission-corrected latencies, thresholds and
// reports.
func newLoadCmd() *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Drive realistic PostHog traffic at a capture API and check latency thresholds",
		Long: `Sends posthog-js style events, batches and /decide calls at a paced rate (an open
model: slow replies never hold back the next request) and reports latency measured
from the intended send time as well as from the actual send, so a stalling server
cannot hide behind a slowed-down load generator.

Exit status (as k6): 0 when every --threshold passed, 99 when one failed or the
target failed every request (as bench regions), 2 when the command was used
wrong (nothing is sent), 130 when interrupted (the partial report is still written).`,
		Example: `  shakedown load --state .stack --rate 500 --duration 30s --threshold 'p(95)<300ms' --threshold 'errors<1%'
  shakedown load --target http://127.0.0.1:8010 --token phc_x --pacer steps --steps 100:10s,400:10s --report html --out out/
  shakedown load --state .stack --rate 2000 --duration 1m --workers 4 --kubeconfig ~/.kube/config --worker-image IMAGE`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.durationSet = cmd.Flags().Changed("duration")
			if err := checkLoadFlags(&f); err != nil {
				return &exitError{code: exitUsage, msg: err.Error()}
			}
			return runLoad(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "", "capture API base URL (default: from --state)")
	fl.StringVar(&f.token, "token", "", "project API token (default: from --state)")
	fl.StringVar(&f.state, "state", "", "read target, token and ClickHouse address from DIR/stack.json (see `shakedown stack up --state`)")
	fl.Float64Var(&f.rate, "rate", 100, "requests per second (the constant rate, the ramp's end, the sine's mean)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long to attack (steps: default the staircase's length); must be positive")
	fl.BoolVar(&f.untilInterrupted, "until-interrupted", false, "attack until interrupted (Ctrl-C, SIGTERM) instead of for --duration")
	fl.StringVar(&f.pacer, "pacer", "constant", "rate shape: constant, ramp, sine or steps")
	fl.Float64Var(&f.rampFrom, "ramp-from", 0, "ramp: starting rate (default a tenth of --rate)")
	fl.Float64Var(&f.sineAmp, "sine-amplitude", 0, "sine: amplitude in requests/s (default half of --rate)")
	fl.DurationVar(&f.sinePeriod, "sine-period", 0, "sine: period (default --duration)")
	fl.StringVar(&f.steps, "steps", "", "steps: rate:duration,... e.g. 100:10s,200:10s,400:10s")
	fl.StringArrayVar(&f.thresholds, "threshold", nil, "pass/fail rule, repeatable: 'p(95)<300ms', 'p(99)<=1s', 'errors<1%', 'rate>=0.98*target', 'e2e_p(95)<2s'")
	fl.StringArrayVar(&f.reports, "report", nil, "report format, repeatable: text, json, md, html (default text)")
	fl.StringVar(&f.out, "out", "", "write reports to DIR/load.<ext> (default: stdout)")
	fl.Uint64Var(&f.seed, "seed", 0, "traffic seed: the same seed sends the same requests (default random, printed)")
	fl.StringVar(&f.kinds, "mix", "", "request kinds weights, e.g. event=0.3,array=0.4,batch=0.2,decide=0.1")
	fl.StringVar(&f.encodings, "encodings", "", "encoding weights, e.g. gzip-js=0.5,json=0.2,base64=0.1,lz64=0.1,form=0.05,get=0.05")
	fl.Uint64Var(&f.sampleEvery, "sample-every", 100, "measure end-to-end latency of 1 in N events (0: off; needs ClickHouse)")
	fl.StringVar(&f.clickhouse, "clickhouse", "", "ClickHouse native address host:port for end-to-end latency (default: from --state)")
	fl.StringVar(&f.chDatabase, "clickhouse-database", "default", "ClickHouse database holding the events table")
	fl.StringVar(&f.chUser, "clickhouse-user", "", "ClickHouse user (default: from --state, else \"default\")")
	fl.StringVar(&f.chPassword, "clickhouse-password", "", "ClickHouse password (default: from --state, else $CLICKHOUSE_PASSWORD; prefer those to keep it off the command line)")
	fl.DurationVar(&f.e2eTimeout, "e2e-timeout", 30*time.Second, "a sampled event not queryable this long after its send counts as lost")
	fl.IntVar(&f.pool, "pool", 0, "build N targets up front and cycle through them (repeats events; the default builds unique targets ahead of the pacer on every core)")
	fl.StringVar(&f.prebuildMemory, "prebuild-memory", defaultPrebuildMemory, "build the run's requests before the attack, up to this much memory (e.g. 512Mi; 0: build every request during the attack), so the attack leaves the target the CPU building takes; past it requests are built during the attack, ahead of the pacer")
	fl.Uint64Var(&f.maxWorkers, "max-workers", 0, "bound vegeta's workers (0: unbounded, the open model; bounding hides stalls from vegeta's own latency)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-request timeout")
	fl.IntVar(&f.workers, "workers", 0, "run the attack on N pods of an indexed Kubernetes Job at rate/N each, and merge their results")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster for --workers")
	fl.StringVar(&f.namespace, "namespace", "default", "namespace of the worker Job")
	fl.StringVar(&f.workerImage, "worker-image", "", "image containing shakedown for --workers")
	fl.StringVar(&f.jobName, "job-name", "shakedown-load", "name of the worker Job")
	fl.IntVar(&f.workerIndex, "worker-index", -1, "this process is worker N of a distributed attack (set by the Job)")
	fl.StringVar(&f.resultOut, "result-out", "", "write the serialized result as a SHAKEDOWN_RESULT line to FILE ('-': stdout), for merging")
	return cmd
}

func parseWeights[K ~string](flag, s string) (map[K]float64, error) {
	if s == "" {
		return nil, nil
	}
	out := map[K]float64{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		w, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("--%s %q: want name=weight pairs, e.g. %s", flag, part, map[string]string{"mix": "event=0.3,decide=0.1", "encodings": "gzip-js=0.5,json=0.5"}[flag])
		}
		out[K(k)] = w
	}
	return out, nil
}

// checkLoadFlags refuses flag values that would make no sense before anything
// starts: a duration of zero or less runs forever only when asked for.
func checkLoadFlags(f *loadFlags) error {
	switch {
	case f.untilInterrupted && f.durationSet:
		return fmt.Errorf("--duration %s with --until-interrupted: give one of them", f.duration)
	case f.untilInterrupted:
		f.duration = 0
	case f.duration <= 0:
		return fmt.Errorf("--duration %s: want a positive duration such as 30s, or --until-interrupted to run until Ctrl-C", f.duration)
	}
	if f.untilInterrupted && f.workers > 0 {
		return fmt.Errorf("--until-interrupted with --workers %d: a worker Job needs a --duration", f.workers)
	}
	if f.workers < 0 || f.pool < 0 {
		return fmt.Errorf("--workers %d, --pool %d: want 0 or more", f.workers, f.pool)
	}
	return nil
}

func runLoad(ctx context.Context, stdout, stderr io.Writer, f loadFlags) error {
	if f.state != "" {
		e, err := stack.ReadState(f.state)
		if err != nil {
			return err
		}
		if f.target == "" {
			f.target = e.CaptureURL
		}
		if f.token == "" {
			f.token = e.Token
		}
		if f.clickhouse == "" {
			f.clickhouse = e.ClickHouseNative
		}
		if f.chUser == "" {
			f.chUser, f.chPassword = e.ClickHouseUser, orFlag(f.chPassword, e.ClickHousePassword)
		}
	}
	if f.target == "" || f.token == "" {
		return &exitError{code: exitUsage, msg: "no target: pass --target URL --token T, or --state DIR of a running `shakedown stack up --state DIR`"}
	}
	if f.seed == 0 {
		f.seed = rand.Uint64()
	}
	rules, err := threshold.ParseAll(f.thresholds)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	prebuildBytes, err := parseMemory("prebuild-memory", f.prebuildMemory)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	if len(f.reports) == 0 {
		f.reports = []string{"text"}
	}
	for _, r := range f.reports {
		if _, _, err := report.ByName(r); err != nil {
			return &exitError{code: exitUsage, msg: "--report: " + err.Error()}
		}
	}
	spec := pace.Spec{Kind: f.pacer, Rate: f.rate, Duration: f.duration, From: f.rampFrom, Amplitude: f.sineAmp, Period: f.sinePeriod, Steps: f.steps}
	if f.pacer == "steps" && f.steps != "" && !f.durationSet && !f.untilInterrupted {
		if st, err := pace.ParseSteps(f.steps); err == nil {
			f.duration, spec.Duration = st.Total(), st.Total()
		}
	}
	if _, err := pace.New(spec); err != nil {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--pacer %s: %v", f.pacer, err)}
	}
	kinds, err := parseWeights[traffic.Kind]("mix", f.kinds)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	encs, err := parseWeights[phclient.Encoding]("encodings", f.encodings)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	cfg := report.Config{Target: f.target, Pacer: describePacer(f), Rate: f.rate, Duration: f.duration, Seed: f.seed, Workers: max(f.workers, 1),
		Command: report.CommandLine(os.Args)}

	if f.workers > 0 {
		return runDistributed(ctx, stdout, stderr, f, cfg, rules)
	}
	if f.workerIndex >= 0 {
		// Workers of one attack send different events: offset the seed.
		f.seed += uint64(f.workerIndex) * 0x9e3779b97f4a7c15
		cfg.Seed = f.seed
	}

	opts := load.Options{Target: f.target, Token: f.token, Pacer: spec, Seed: f.seed, Kinds: kinds, Encodings: encs, Pool: f.pool,
		PrebuildMemory: prebuildBytes, MaxWorkers: f.maxWorkers, Timeout: f.timeout, Thresholds: rules,
		Database: f.chDatabase, SampleEvery: f.sampleEvery, E2ETimeout: f.e2eTimeout,
		Log: func(msg string) { fmt.Fprintln(stderr, msg) }}
	if prebuildBytes == 0 {
		opts.PrebuildMemory = -1 // --prebuild-memory 0: build every request during the attack
	}
	if sampleEvery(f) > 0 {
		if f.chPassword == "" {
			f.chPassword = os.Getenv("CLICKHOUSE_PASSWORD")
		}
		conn, err := chconn.Open(ctx, f.clickhouse, f.chUser, f.chPassword)
		if ctx.Err() != nil {
			return &exitError{code: exitInterrupted, msg: "interrupted before the attack"}
		}
		if err != nil {
			return fmt.Errorf("end-to-end latency: %w (check --clickhouse, or pass --sample-every 0)", err)
		}
		defer conn.Close()
		opts.ClickHouse = conn
	}
	howLong := "for " + f.duration.String()
	if f.duration == 0 {
		howLong = "until interrupted"
	}
	live := newLiveProgress(stderr)
	opts.Tick = live.tick
	fmt.Fprintf(stderr, "attacking %s: %s %s, seed %d\n", f.target, cfg.Pacer, howLong, f.seed)
	res, err := load.Run(ctx, opts)
	live.done()
	if res == nil {
		if ctx.Err() != nil {
			return &exitError{code: exitInterrupted, msg: "interrupted before the attack"}
		}
		return usageExit(err, load.ErrInvalidOptions)
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	if res.E2EErr != nil {
		fmt.Fprintln(stderr, "shakedown: end-to-end latency:", res.E2EErr)
	}
	if f.resultOut != "" {
		if err := writeResult(stdout, f.resultOut, res.Recorder); err != nil {
			return err
		}
	}
	return finishLoad(stdout, stderr, f, cfg, res.Recorder, rules, res.Stopped)
}

func sampleEvery(f loadFlags) uint64 {
	if f.clickhouse == "" {
		return 0
	}
	return f.sampleEvery
}

func describePacer(f loadFlags) string {
	switch f.pacer {
	case "ramp", "linear":
		return fmt.Sprintf("ramp to %g/s", f.rate)
	case "sine":
		return fmt.Sprintf("sine around %g/s", f.rate)
	case "steps":
		return "steps " + f.steps
	}
	return fmt.Sprintf("constant %g/s", f.rate)
}

func writeResult(stdout io.Writer, path string, rec *record.Recorder) error {
	if path == "-" {
		return distributed.WriteResult(stdout, rec)
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--result-out: %w", err)
	}
	if err := distributed.WriteResult(fh, rec); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// finishLoad writes the reports and turns the verdict into the exit status.
func finishLoad(stdout, stderr io.Writer, f loadFlags, cfg report.Config, rec *record.Recorder, rules []threshold.Threshold, stopped string) error {
	rep := report.New("shakedown load", cfg, rec, rules)
	rep.Stopped = stopped
	for _, name := range f.reports {
		enc, ext, _ := report.ByName(name)
		if f.out == "" {
			if err := enc(stdout, rep); err != nil {
				return err
			}
			continue
		}
		path := filepath.Join(f.out, "load."+ext)
		if err := junit.WriteFile(path, func(w io.Writer) error { return enc(w, rep) }); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "report written to %s\n", path)
	}
	if f.out != "" {
		_ = report.Text(stdout, rep)
	}
	if err := appendStepSummary(func(w io.Writer) error { return report.Markdown(w, rep) }); err != nil {
		fmt.Fprintln(stderr, "shakedown:", err) // the run's verdict stands
	}
	sum := rec.Summary()
	switch {
	case stopped != "":
		return &exitError{code: exitInterrupted, msg: stopped + ": the report is partial"}
	case !rep.Passed:
		return &exitError{code: exitThresholds, msg: "load: " + strings.TrimPrefix(failedRules(rep), "; ")}
	case sum.Requests > 0 && sum.Errors == sum.Requests:
		// No threshold is needed to call this a failure: nothing the target did worked.
		first := ""
		if len(sum.TopErrors) > 0 {
			first = " (most frequent: " + sum.TopErrors[0].Error + ")"
		}
		return &exitError{code: exitThresholds, msg: fmt.Sprintf("load: all %d requests failed%s; check --target and that the stack is up", sum.Requests, first)}
	}
	return nil
}

func failedRules(r *report.Report) string {
	var b strings.Builder
	for _, t := range r.Thresholds {
		if !t.Pass {
			actual := t.Actual
			if t.Note != "" {
				actual = t.Note
			}
			fmt.Fprintf(&b, "; threshold %s failed (actual %s)", t.Rule, actual)
		}
	}
	return b.String()
}

// workerSpec returns the Job of a distributed attack: every worker gets the load's
// flags with each rate scaled to its 1/N share (distributed.Job adds --rate/N).
func workerSpec(f loadFlags) (distributed.Spec, error) {
	n := float64(f.workers)
	share, err := pace.Spec{Kind: f.pacer, Rate: f.rate, Duration: f.duration, From: f.rampFrom, Amplitude: f.sineAmp, Period: f.sinePeriod, Steps: f.steps}.Scale(1 / n)
	if err != nil {
		return distributed.Spec{}, fmt.Errorf("--workers %d: one worker's share of the attack: %w", f.workers, err)
	}
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	args := []string{"--target", f.target, "--token", f.token, "--duration", f.duration.String(), "--pacer", f.pacer,
		"--seed", strconv.FormatUint(f.seed, 10), "--timeout", f.timeout.String(), "--sample-every", strconv.FormatUint(f.sampleEvery, 10),
		"--e2e-timeout", f.e2eTimeout.String(), "--max-workers", strconv.FormatUint(f.maxWorkers, 10)}
	switch f.pacer {
	case "ramp", "linear":
		args = append(args, "--ramp-from", ff(share.From))
	case "sine":
		args = append(args, "--sine-amplitude", ff(share.Amplitude), "--sine-period", share.Period.String())
	case "steps":
		args = append(args, "--steps", share.Steps)
	}
	if f.clickhouse != "" {
		// The password is not passed on: it would show in the worker pods' spec.
		args = append(args, "--clickhouse", f.clickhouse, "--clickhouse-database", f.chDatabase, "--clickhouse-user", f.chUser)
	}
	if f.kinds != "" {
		args = append(args, "--mix", f.kinds)
	}
	if f.encodings != "" {
		args = append(args, "--encodings", f.encodings)
	}
	if f.pool > 0 {
		args = append(args, "--pool", strconv.Itoa(f.pool))
	}
	if f.prebuildMemory != defaultPrebuildMemory {
		args = append(args, "--prebuild-memory", f.prebuildMemory)
	}
	return distributed.Spec{Name: f.jobName, Namespace: f.namespace, Image: f.workerImage, Workers: f.workers, Rate: f.rate, Args: args,
		Deadline: f.duration + f.e2eTimeout + 5*time.Minute}, nil
}

func runDistributed(ctx context.Context, stdout, stderr io.Writer, f loadFlags, cfg report.Config, rules []threshold.Threshold) error {
	spec, err := workerSpec(f)
	if err != nil {
		return err
	}
	if f.kubeconfig == "" {
		return fmt.Errorf("--workers %d needs --kubeconfig FILE of the cluster to run the worker Job on", f.workers)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig %s: %w", f.kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client for %s: %w", f.kubeconfig, err)
	}
	rec, err := distributed.Run(ctx, cs, spec, false, func(msg string) { fmt.Fprintln(stderr, msg) })
	if err != nil {
		return err
	}
	return finishLoad(stdout, stderr, f, cfg, rec, rules, "")
}

// liveProgress shows the attack each second on a terminal, and a line every ten
// seconds elsewhere (CI logs, pipes).
type liveProgress struct {
	w           io.Writer
	interactive bool
	lastLine    time.Duration
}

func newLiveProgress(w io.Writer) *liveProgress {
	interactive := false
	if fh, ok := w.(*os.File); ok && term.IsTerminal(int(fh.Fd())) && os.Getenv("CI") == "" {
		interactive = true
	}
	return &liveProgress{w: w, interactive: interactive}
}

func (l *liveProgress) tick(p loadgen.Progress) {
	line := fmt.Sprintf("%4ds  %6.0f/s (target %.0f/s)  p50 %s  p95 %s  errors %d/s (%d total)  sent %d",
		int(p.Elapsed.Seconds()), float64(p.Last.Requests), p.TargetRate, p.Last.Intended.P50.Round(10*time.Microsecond),
		p.Last.Intended.P95.Round(10*time.Microsecond), p.Last.Errors, p.Errors, p.Requests)
	if l.interactive {
		fmt.Fprintf(l.w, "\r\033[K%s", line)
		return
	}
	if p.Elapsed-l.lastLine >= 10*time.Second {
		l.lastLine = p.Elapsed
		fmt.Fprintf(l.w, "%s %s\n", time.Now().UTC().Format("15:04:05"), line)
	}
}

func (l *liveProgress) done() {
	if l.interactive {
		fmt.Fprint(l.w, "\r\033[K")
	}
}

// defaultPrebuildMemory is --prebuild-memory's default: loadgen.DefaultPrebuildMemory.
const defaultPrebuildMemory = "256Mi"

// parseMemory reads a size such as 256Mi, 1G or 0.
func parseMemory(flag, s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() < 0 {
		return 0, fmt.Errorf("--%s %q: want a size such as 256Mi, 1Gi or 0", flag, s)
	}
	return q.Value(), nil
}

// appendStepSummary appends a Markdown report to GitHub's step summary when
// the job has one (GITHUB_STEP_SUMMARY set).
func appendStepSummary(markdown func(io.Writer) error) error {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
	}
	err = markdown(fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the step summary %s: %w", path, err)
	}
	return nil
}
