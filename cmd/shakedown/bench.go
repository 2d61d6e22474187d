package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/progress"
	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/regions"
	"github.com/shakedown-dev/shakedown/loadgen/regions/regionsim"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

// newBenchCmd is `shakedown bench`: comparative benchmarks of deployments.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark deployments against each other",
	}
	cmd.AddCommand(newBenchRegionsCmd())
	return cmd
}

type benchRegionsFlags struct {
	targets     []string
	token       string
	simulate    string
	rate        float64
	duration    time.Duration
	rounds      int
	warmup      int
	confidence  float64
	resamples   int
	seed        uint64
	trafficSeed uint64
	metric      string
	report      string
	out         string
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
and ratio of each percentile with its interval and a verdict — including "no significant
difference" when the interval of the difference holds 0.

--simulate eu=20ms,us=80ms runs the whole thing on this machine: the local stack behind
one in-process latency proxy per region (toxiproxy; the delay is added to each reply, so
every round trip grows by exactly that amount).`,
		Example: `  shakedown bench regions --target eu=https://eu.example.com --target us=https://us.example.com --token phc_... --duration 2m
  shakedown bench regions --simulate eu=20ms,us=80ms --rounds 300 --out bench-out`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchRegions(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.targets, "target", nil, "a target as NAME=URL (repeat, at least two)")
	fl.StringVar(&f.token, "token", "", "project API token the targets accept (default with --simulate: the local stack's)")
	fl.StringVar(&f.simulate, "simulate", "", "simulate regions on this machine, e.g. eu=20ms,us=80ms (local stack behind latency proxies; replaces --target)")
	fl.Float64Var(&f.rate, "rate", 10, "rounds per second: requests per second each target receives")
	fl.DurationVar(&f.duration, "duration", 30*time.Second, "how long to run (rate × duration rounds)")
	fl.IntVar(&f.rounds, "rounds", 0, "how many rounds to run (instead of --duration)")
	fl.IntVar(&f.warmup, "warmup", 10, "rounds sent first and left out of the statistics (connection and TLS set-up)")
	fl.Float64Var(&f.confidence, "confidence", 0.95, "confidence level of every interval")
	fl.IntVar(&f.resamples, "resamples", 2000, "bootstrap resamples (at least 1000)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the bootstrap: the same data and seed give the same report")
	fl.Uint64Var(&f.trafficSeed, "traffic-seed", 1, "seed of the request stream")
	fl.StringVar(&f.metric, "metric", string(record.Latency), "latency to compare: latency (from the actual send) or intended (from the scheduled send)")
	fl.StringVar(&f.report, "report", string(regions.Text), "report format on stdout: text, json, md or html")
	fl.StringVar(&f.out, "out", "", "also write every report format and the plot (latency.svg) into this directory")
	cmd.MarkFlagsMutuallyExclusive("duration", "rounds")
	cmd.MarkFlagsMutuallyExclusive("target", "simulate")
	return cmd
}

func runBenchRegions(ctx context.Context, stdout, stderr io.Writer, f benchRegionsFlags) (err error) {
	format, err := regions.ParseFormat(f.report)
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	if f.simulate == "" && len(f.targets) == 0 {
		return errors.New("no targets: pass --target NAME=URL at least twice, or --simulate eu=20ms,us=80ms to try it locally")
	}
	measured := f.rounds
	if measured == 0 {
		measured = int(math.Ceil(f.rate * f.duration.Seconds()))
	}
	if measured <= 0 || f.warmup < 0 {
		return fmt.Errorf("--rounds/--duration give %d measured rounds and --warmup %d: want at least one round and no negative warm-up", measured, f.warmup)
	}
	// Warm-up rounds come on top of the measured ones.
	opts := regions.Options{Rate: f.rate, Rounds: measured + f.warmup, Warmup: f.warmup}
	token := f.token
	steps := progress.New(stderr)

	if f.simulate != "" {
		rs, err := regionsim.ParseRegions(f.simulate)
		if err != nil {
			return fmt.Errorf("--simulate: %w", err)
		}
		sim, err := regionsim.Start(ctx, regionsim.Options{Regions: rs, Stack: local.Options{Listen: "127.0.0.1:0", Progress: steps.Step}})
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
			fmt.Fprintf(stderr, "simulated region %s: %s (+%s per round trip)\n", t.Name, t.URL, rs[i].Latency)
		}
	} else {
		for _, spec := range f.targets {
			name, u, ok := strings.Cut(spec, "=")
			if !ok || name == "" || u == "" {
				return fmt.Errorf("--target %q: want NAME=URL, e.g. eu=https://eu.example.com", spec)
			}
			opts.Targets = append(opts.Targets, regions.Target{Name: name, URL: strings.TrimRight(u, "/")})
		}
		if token == "" {
			return errors.New("--token is required with --target: the project API token the targets accept (phc_...)")
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
		return err
	}
	if res.Interrupted {
		steps.Fail()
		fmt.Fprintf(stderr, "interrupted after %d of %d rounds: reporting what was measured\n", res.Sent, res.Rounds)
	} else {
		steps.Done()
	}

	rep, err := regions.Analyze(res, regions.AnalyzeOptions{Level: f.confidence, Resamples: f.resamples, Seed: f.seed, Metric: record.Metric(f.metric)})
	if err != nil {
		return err
	}
	if err := regions.Write(stdout, format, rep); err != nil {
		return fmt.Errorf("write the %s report: %w", format, err)
	}
	if f.out != "" {
		if err := writeBenchRegionsOut(f.out, rep); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "reports and plot written to %s\n", f.out)
	}
	if res.Interrupted {
		return &exitError{code: 130, msg: "interrupted: the report above is partial"}
	}
	return nil
}

// writeBenchRegionsOut writes report.{txt,json,md,html} and latency.svg into dir.
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
	return write("latency.svg", func(w io.Writer) error { return regions.WriteSVG(w, rep) })
}
