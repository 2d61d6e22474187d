package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/progress"
	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/regions"
	"github.com/shakedown-dev/shakedown/loadgen/regions/regionsim"
	"github.com/shakedown-dev/shakedown/loadgen/stats"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

// newBenchCmd is `shakedown bench`: comparative benchmarks of deployments.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark deployments against each other",
	}
	cmd.AddCommand(newBenchRegionsCmd(), newBenchVegetaCmd())
	return cmd
}

type benchRegionsFlags struct {
	targets     []string
	token       string
	simulate    string
	rate        float64
	duration    time.Duration
	rounds      int
	roundsSet   bool
	warmup      int
	confidence  float64
	resamples   int
	seed        uint64
	trafficSeed uint64
	metric      string
	report      string
	out         string
	maxErrors   string
	thresholds  []string
	residency   []string
	resTimeout  time.Duration
	chUser      string
	chPassword  string
	chDatabase  string
}

func newBenchRegionsCmd() *cobra.Command {
	var f benchRegionsFlags
	cmd := &cobra.Command{
		Use:   "regions",
		Short: "Compare the latency of deployments (e.g. EU vs US) with the same interleaved request stream",
		Long: `Sends the same stream of realistic PostHog requests to every target, interleaved in
rounds: round k sends request k to each target, starting at target k mod N, so drift over
time and ordering bias hit every target alike. Reports p50/p90/p95/p99 per target with
percentile-bootstrap confidence intervals, and for every pair of targets the difference
and ratio of each percentile with its interval and a verdict ("eu has 41% lower latency
than us at p50 ...", or "no significant difference" when the interval of the difference
holds 0). Comparisons resample whole rounds, the same rounds for both targets (paired
bootstrap); the independent bootstrap's intervals are shown beside them, and a verdict
says where the two disagree. The HTML report also plots each target's latency round by
round over the run.

Every flag is checked before the first request. Exit status: 0 when every check passed;
99 when a check failed — a target over --max-errors, a --threshold, or --residency;
2 for a usage error (a bad flag, threshold or target); 130 when interrupted (the report
is partial); 1 when the run could not happen.

--max-errors 5% fails a target whose share of failed requests exceeds 5%; by default a
target fails only when every one of its requests failed. The report names the failing
target and its most frequent error.

--threshold is a rule on the point estimates of --metric, repeatable:
  'eu.p(95) < us.p(95)'        eu's p95 below us's
  'eu.p(99) < 200ms'           a fixed limit
  'eu.p(95) < 0.8*us.p(95)'    a factor of another target's
Operands are TARGET.p(N), TARGET.med, TARGET.avg, FACTOR*TARGET.STAT or a duration;
operators <, <=, >, >=. The report also says whether the outcome is significant (the
confidence interval of the ratio, or of the target's percentile, excludes the limit).

--residency eu=HOST:PORT,us=HOST:PORT checks data residency: every target gets its own
event uuids (the same requests otherwise), and after the run the events each target
acknowledged must all be in its own region's ClickHouse (native port) within
--residency-timeout, and no event sent to one target may be in another region's store.
A store is NAME=[USER@]HOST:PORT or NAME=STATE_DIR (a 'shakedown stack up --state DIR',
which carries the user and password); the password otherwise comes from
--clickhouse-password or $CLICKHOUSE_PASSWORD.

--simulate eu=20ms,us=80ms runs the whole thing on this machine: the local stack behind
one in-process latency proxy per region (toxiproxy; the delay is added to each reply, so
every round trip grows by that amount). Each region is NAME=LATENCY[±JITTER][/LOSS%]:
eu=20ms±5ms spreads the delay uniformly over 15–25ms ("+-" may stand for "±"), and
us=80ms/1% also drops 1% of requests (the connection is closed before the request
reaches the stack, so the client gets no reply).`,
		Example: `  shakedown bench regions --target eu=https://eu.example.com --target us=https://us.example.com --token phc_... --duration 2m
  shakedown bench regions --simulate eu=20ms±5ms,us=80ms±10ms/1% --rounds 300 --threshold 'eu.p(95) < us.p(95)' --out bench-out
  shakedown bench regions --target eu=... --target us=... --token phc_... --max-errors 1% --residency eu=eu-ch:9000,us=us-ch:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.roundsSet = cmd.Flags().Changed("rounds")
			return runBenchRegions(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.targets, "target", nil, "a target as NAME=URL (repeat, at least two)")
	fl.StringVar(&f.token, "token", "", "project API token the targets accept (default with --simulate: the local stack's)")
	fl.StringVar(&f.simulate, "simulate", "", "simulate regions on this machine as NAME=LATENCY[±JITTER][/LOSS%], e.g. eu=20ms±5ms,us=80ms/1% (local stack behind latency proxies; replaces --target)")
	fl.Float64Var(&f.rate, "rate", regions.DefaultRate, "rounds per second, above 0: requests per second each target receives")
	fl.DurationVar(&f.duration, "duration", 30*time.Second, "how long to run (rate × duration rounds)")
	fl.IntVar(&f.rounds, "rounds", 0, "how many rounds to measure, at least 1 (instead of --duration)")
	fl.IntVar(&f.warmup, "warmup", 10, "rounds sent first and left out of the statistics (connection and TLS set-up)")
	fl.Float64Var(&f.confidence, "confidence", 0.95, "confidence level of every interval, between 0 and 1")
	fl.IntVar(&f.resamples, "resamples", 2000, "bootstrap resamples (at least 1000)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the bootstrap: the same data and seed give the same report")
	fl.Uint64Var(&f.trafficSeed, "traffic-seed", 1, "seed of the request stream")
	fl.StringVar(&f.metric, "metric", string(record.Latency), "latency to compare: latency (from the actual send) or intended (from the scheduled send)")
	fl.StringVar(&f.report, "report", string(regions.Text), "report format on stdout: text, json, md or html")
	fl.StringVar(&f.out, "out", "", "also write every report format and the plots (latency.svg, rounds.svg) into this directory")
	fl.StringVar(&f.maxErrors, "max-errors", "", "fail (exit 99) a target whose share of failed requests exceeds this, e.g. 5% or 0.05 (default: fail only a target whose every request failed)")
	fl.StringArrayVar(&f.thresholds, "threshold", nil, "pass/fail rule, repeatable (exit 99 when one fails): 'eu.p(95) < us.p(95)', 'eu.p(99) < 200ms', 'eu.p(95) < 0.8*us.p(95)'")
	fl.StringSliceVar(&f.residency, "residency", nil, "check data residency against each region's ClickHouse: NAME=[USER@]HOST:PORT or NAME=STATE_DIR, comma-separated or repeated (exit 99 on a violation)")
	fl.DurationVar(&f.resTimeout, "residency-timeout", regions.DefaultResidencyTimeout, "how long to wait for acknowledged events to reach their region's store")
	fl.StringVar(&f.chUser, "clickhouse-user", "", "ClickHouse user of the --residency stores (default: from a STATE_DIR, else \"default\")")
	fl.StringVar(&f.chPassword, "clickhouse-password", "", "ClickHouse password of the --residency stores (default: from a STATE_DIR, else $CLICKHOUSE_PASSWORD; prefer those to keep it off the command line)")
	fl.StringVar(&f.chDatabase, "clickhouse-database", "default", "ClickHouse database holding the events table")
	cmd.MarkFlagsMutuallyExclusive("duration", "rounds")
	cmd.MarkFlagsMutuallyExclusive("target", "simulate")
	cmd.MarkFlagsMutuallyExclusive("residency", "simulate")
	return cmd
}

// benchRegionsPlan is the flags checked and turned into the library's options.
type benchRegionsPlan struct {
	format  regions.Format
	sim     []regionsim.Region
	opts    regions.Options
	analyze regions.AnalyzeOptions
	stores  []regions.StoreSpec
}

// planBenchRegions checks every flag without sending anything; its errors are usage
// errors.
func planBenchRegions(f benchRegionsFlags) (benchRegionsPlan, error) {
	var p benchRegionsPlan
	var err error
	if p.format, err = regions.ParseFormat(f.report); err != nil {
		return p, fmt.Errorf("--report: %w", err)
	}
	if f.simulate == "" && len(f.targets) == 0 {
		return p, errors.New("no targets: pass --target NAME=URL at least twice, or --simulate eu=20ms,us=80ms to try it locally")
	}
	if !(f.rate > 0) {
		return p, fmt.Errorf("--rate %v: want a positive number of rounds per second, e.g. --rate 10", f.rate)
	}
	if f.roundsSet && f.rounds <= 0 {
		return p, fmt.Errorf("--rounds %d: want at least one measured round (or leave it out and use --duration)", f.rounds)
	}
	if f.warmup < 0 {
		return p, fmt.Errorf("--warmup %d: want zero or more rounds", f.warmup)
	}
	measured := f.rounds
	if !f.roundsSet {
		if f.duration <= 0 {
			return p, fmt.Errorf("--duration %s: want a positive duration, e.g. 30s", f.duration)
		}
		measured = max(1, int(math.Ceil(f.rate*f.duration.Seconds())))
	}
	// Warm-up rounds come on top of the measured ones.
	p.opts = regions.Options{Rate: f.rate, Rounds: measured + f.warmup, Warmup: f.warmup, TrackEvents: len(f.residency) > 0}
	if f.simulate != "" {
		if p.sim, err = regionsim.ParseRegions(f.simulate); err != nil {
			return p, fmt.Errorf("--simulate: %w", err)
		}
		// The proxies' URLs are known once they listen: check the rest with a
		// loopback placeholder.
		for _, r := range p.sim {
			p.opts.Targets = append(p.opts.Targets, regions.Target{Name: r.Name, URL: "http://127.0.0.1"})
		}
	} else {
		if p.opts.Targets, err = regions.ParseTargets(f.targets); err != nil {
			return p, fmt.Errorf("--target: %w", err)
		}
		if f.token == "" {
			return p, errors.New("--token is required with --target: the project API token the targets accept (phc_...)")
		}
	}
	if err := p.opts.Validate(); err != nil {
		return p, err
	}
	names := make([]string, len(p.opts.Targets))
	for i, t := range p.opts.Targets {
		names[i] = t.Name
	}
	p.analyze = regions.AnalyzeOptions{Level: f.confidence, Resamples: f.resamples, Seed: f.seed, Metric: record.Metric(f.metric)}
	if f.confidence == 0 {
		return p, errors.New("--confidence 0: want a level strictly between 0 and 1, e.g. 0.95")
	}
	if f.resamples == 0 {
		return p, fmt.Errorf("--resamples 0: want at least %d", stats.MinResamples)
	}
	if f.maxErrors != "" {
		share, err := threshold.ParseShare(f.maxErrors)
		if err != nil {
			return p, fmt.Errorf("--max-errors %q: %v; write a share such as 5%% or 0.05", f.maxErrors, err)
		}
		p.analyze.MaxErrors = &share
	}
	if p.analyze.Thresholds, err = regions.ParseThresholds(f.thresholds, names); err != nil {
		return p, fmt.Errorf("--threshold: %w", err)
	}
	if err := p.analyze.Validate(); err != nil {
		return p, err
	}
	if p.stores, err = regions.ParseStoreSpecs(f.residency); err != nil {
		return p, fmt.Errorf("--residency: %w", err)
	}
	for i, s := range p.stores {
		if !slices.Contains(names, s.Name) {
			return p, fmt.Errorf("--residency: store for %q, which is not a target; the targets are %s", s.Name, strings.Join(names, ", "))
		}
		p.stores[i].User = orFlag(s.User, f.chUser)
		p.stores[i].Password = orFlag(s.Password, orFlag(f.chPassword, os.Getenv("CLICKHOUSE_PASSWORD")))
		p.stores[i].Database = f.chDatabase
	}
	return p, nil
}

func runBenchRegions(ctx context.Context, stdout, stderr io.Writer, f benchRegionsFlags) (err error) {
	p, err := planBenchRegions(f)
	if err != nil {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("bench regions: %v (see shakedown bench regions --help)", err)}
	}
	opts := p.opts
	token := f.token
	steps := progress.New(stderr)

	stores := map[string]regions.EventStore{}
	for _, s := range p.stores {
		store, closeStore, err := regions.OpenStore(ctx, s)
		if err != nil {
			return err
		}
		defer closeStore()
		stores[s.Name] = store
	}

	if p.sim != nil {
		sim, err := regionsim.Start(ctx, regionsim.Options{Regions: p.sim, Stack: local.Options{Listen: "127.0.0.1:0", Progress: steps.Step}})
		if err != nil {
			steps.Fail()
			return err
		}
		steps.Done()
		defer func() {
			steps.Step("stopping the simulated regions and the local stack")
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if cerr := sim.Close(cctx); cerr != nil {
				steps.Fail()
				err = errors.Join(err, cerr)
				return
			}
			steps.Done()
		}()
		opts.Targets = sim.Targets
		if token == "" {
			token = sim.Stack.Endpoints.Token
		}
		for i, t := range sim.Targets {
			fmt.Fprintf(stderr, "simulated region %s: %s (%s)\n", t.Name, t.URL, p.sim[i])
		}
	}

	gen, err := traffic.New(traffic.Options{BaseURL: opts.Targets[0].URL, Token: token, Seed: f.trafficSeed, Epoch: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("request stream: %w", err)
	}
	opts.Stream = gen.Targeter(ctx, nil)

	names := make([]string, len(opts.Targets))
	for i, t := range opts.Targets {
		names[i] = t.Name
	}
	steps.Step(fmt.Sprintf("benchmarking %s: %d rounds at %g/s (%d warm-up)", strings.Join(names, " vs "), opts.Rounds, opts.Rate, opts.Warmup))
	res, err := regions.Run(ctx, opts)
	if err != nil {
		steps.Fail()
		return usageExit(err, regions.ErrInvalidOptions)
	}
	if res.Interrupted {
		steps.Fail()
		fmt.Fprintf(stderr, "interrupted after %d of %d rounds: reporting what was measured\n", res.Sent, res.Rounds)
	} else {
		steps.Done()
	}

	analyze := p.analyze
	if len(stores) > 0 && res.Interrupted {
		fmt.Fprintln(stderr, "data residency not checked: the run was interrupted")
	}
	if len(stores) > 0 && !res.Interrupted {
		steps.Step(fmt.Sprintf("checking data residency in %d region stores (up to %s)", len(stores), f.resTimeout))
		residency, err := regions.CheckResidency(ctx, res, regions.ResidencyOptions{Stores: stores, Timeout: f.resTimeout})
		if err != nil {
			steps.Fail()
			return err
		}
		steps.Done()
		analyze.Residency = &residency
	}
	rep, err := regions.Analyze(res, analyze)
	if err != nil {
		return usageExit(err, regions.ErrInvalidOptions)
	}
	if err := regions.Write(stdout, p.format, rep); err != nil {
		return fmt.Errorf("write the %s report: %w", p.format, err)
	}
	if f.out != "" {
		if err := writeBenchRegionsOut(f.out, rep); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "reports and plots written to %s\n", f.out)
	}
	if res.Interrupted {
		return &exitError{code: exitInterrupted, msg: "interrupted: the report above is partial"}
	}
	if failures := rep.Failures(); len(failures) > 0 {
		return &exitError{code: exitThresholds, msg: "bench regions: " + strings.Join(failures, "; ")}
	}
	return nil
}

// writeBenchRegionsOut writes report.{txt,json,md,html}, latency.svg (by percentile)
// and rounds.svg (over the run) into dir.
func writeBenchRegionsOut(dir string, rep regions.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	write := func(name string, enc func(io.Writer) error) error {
		path := filepath.Join(dir, name)
		file, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		if err := enc(file); err != nil {
			file.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	for _, format := range regions.Formats() {
		if err := write("report."+format.Ext(), func(w io.Writer) error { return regions.Write(w, format, rep) }); err != nil {
			return err
		}
	}
	if err := write("latency.svg", func(w io.Writer) error { return regions.WriteSVG(w, rep) }); err != nil {
		return err
	}
	return write("rounds.svg", func(w io.Writer) error { return regions.WriteSeriesSVG(w, rep) })
}
