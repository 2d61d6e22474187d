package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/phclient"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/loadgen"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

type benchVegetaFlags struct {
	target, token, state string
	runs                 int
	duration             time.Duration
	rate                 float64
	maxWorkers           uint64
	pause, warmup        time.Duration
	timeout              time.Duration
	seed                 uint64
	kinds, encodings     string
	noPrebuilt, noLive   bool
}

// newBenchVegetaCmd is `shakedown bench vegeta`: how close shakedown's realistic
// traffic comes to a bare vegeta attacker on the same target.
func newBenchVegetaCmd() *cobra.Command {
	var f benchVegetaFlags
	cmd := &cobra.Command{
		Use:   "vegeta",
		Short: "Compare the rate of shakedown's realistic traffic with a bare vegeta attacker on the same target",
		Long: `Attacks the target in rounds, each side of a round at a rate above what it can
reach (so each achieves its own maximum) with the same number of workers:

  bare       vegeta's library sending static bodies: one per kind and encoding
             of the stream (the request of that shape holding its mean number of
             events, near its mean size), in the stream's mix, so it costs the
             target what the stream costs it;
  prebuilt   vegeta's library sending fresh requests of the same stream, built
             right before the attack (up to twice the best rate so far, each
             sent once): the same new events the realistic side sends, so
             the target does the same work;
  realistic  shakedown load as it runs by default: every event its own uuid
             and timestamp, the configured mix of kinds and encodings; the
             requests built before the attack (as many as the prebuilt side,
             within load's --prebuild-memory default), the rest during it;
  live       shakedown load --prebuild-memory 0: every request built during
             the attack, ahead of the pacer on every core, as load does past
             its prebuild memory.

Rounds alternate the order of the sides (bare, prebuilt, realistic, live, then
the reverse), so drift of the target hits all alike. Prints every side's rate
(successful requests per second) per round, the median ratios realistic/bare,
realistic/prebuilt and live/bare, and this process's CPU time per request.
The prebuilt side costs the target what realistic traffic costs it, so
realistic/prebuilt is what shakedown's attack path costs; live/bare is what
building requests during the attack costs besides, when the target shares the
attacker's cores (compressing bodies takes CPU the target then lacks).

Exit status: 0 when the comparison ran (whatever the ratios), 2 when the command
was used wrong, 130 when interrupted (the rounds completed are printed).`,
		Example: `  shakedown bench vegeta --state .stack
  shakedown bench vegeta --target http://127.0.0.1:8010 --token phc_x --runs 5 --duration 3s
  shakedown bench vegeta --state .stack --mix event=1 --encodings json=1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchVegeta(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "", "capture API base URL (default: from --state)")
	fl.StringVar(&f.token, "token", "", "project API token (default: from --state)")
	fl.StringVar(&f.state, "state", "", "read target and token from DIR/stack.json (see `shakedown stack up --state`)")
	fl.IntVar(&f.runs, "runs", loadgen.DefaultBaselineRuns, "rounds of one attack per side")
	fl.DurationVar(&f.duration, "duration", loadgen.DefaultBaselineDuration, "length of every attack")
	fl.Float64Var(&f.rate, "rate", loadgen.DefaultBaselineRate, "requests per second every attack is paced at: keep it above what the target can take")
	fl.Uint64Var(&f.maxWorkers, "max-workers", loadgen.DefaultBaselineMaxWorkers, "workers of every side, all started at once (0: unbounded, which at a saturating rate opens connections until the target or the file descriptors give out)")
	fl.DurationVar(&f.pause, "pause", loadgen.DefaultBaselinePause, "wait after every attack, for the target to drain its backlog")
	fl.DurationVar(&f.warmup, "warmup", loadgen.DefaultBaselineWarmup, "length of one uncounted attack per side before the rounds (0: none)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-request timeout")
	fl.Uint64Var(&f.seed, "seed", 0, "traffic seed (default random, printed)")
	fl.StringVar(&f.kinds, "mix", "", "request kinds weights of the realistic traffic, e.g. event=0.3,array=0.4,batch=0.2,decide=0.1")
	fl.StringVar(&f.encodings, "encodings", "", "encoding weights of the realistic traffic, e.g. gzip-js=0.5,json=0.2,base64=0.1,lz64=0.1,form=0.05,get=0.05")
	fl.BoolVar(&f.noPrebuilt, "no-prebuilt", false, "leave out the prebuilt side")
	fl.BoolVar(&f.noLive, "no-live", false, "leave out the live side")
	return cmd
}

func runBenchVegeta(ctx context.Context, stdout, stderr io.Writer, f benchVegetaFlags) error {
	usage := func(format string, a ...any) error {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("bench vegeta: "+format+" (see shakedown bench vegeta --help)", a...)}
	}
	if f.state != "" {
		e, err := stack.ReadState(f.state)
		if err != nil {
			return usage("--state: %v", err)
		}
		f.target, f.token = orFlag(f.target, e.CaptureURL), orFlag(f.token, e.Token)
	}
	if f.target == "" || f.token == "" {
		return usage("no target: pass --target URL --token T, or --state DIR of a running `shakedown stack up --state DIR`")
	}
	kinds, err := parseWeights[traffic.Kind]("mix", f.kinds)
	if err != nil {
		return usage("%v", err)
	}
	encs, err := parseWeights[phclient.Encoding]("encodings", f.encodings)
	if err != nil {
		return usage("%v", err)
	}
	if f.duration <= 0 || f.runs < 1 {
		return usage("--duration %s and --runs %d: want a positive duration and at least one run", f.duration, f.runs)
	}
	if f.seed == 0 {
		f.seed = rand.Uint64()
	}
	opts := loadgen.BaselineOptions{
		Traffic:    traffic.Options{BaseURL: f.target, Token: f.token, Seed: f.seed, Kinds: kinds, Encodings: encs},
		NoPrebuilt: f.noPrebuilt,
		NoLive:     f.noLive,
		Runs:       f.runs,
		Duration:   f.duration,
		Rate:       f.rate,
		MaxWorkers: f.maxWorkers,
		Pause:      negativeIfZero(f.pause),
		Warmup:     negativeIfZero(f.warmup),
		Timeout:    f.timeout,
		Progress: func(run int, side string, a loadgen.BaselineAttack) {
			round := fmt.Sprintf("round %d/%d", run+1, f.runs)
			if run < 0 {
				round = "warm-up"
			}
			fmt.Fprintf(stderr, "%-11s %-9s %8.0f req/s  (%d sent, %s)\n", round, side, a.Rate, a.Requests, codes(a.Codes))
		},
	}
	if f.maxWorkers == 0 {
		opts.MaxWorkers = math.MaxUint64
	}
	sides := 4
	if f.noPrebuilt {
		sides--
	}
	if f.noLive {
		sides--
	}
	total := time.Duration(f.runs*sides)*(f.duration+max(f.pause, 0)) + time.Duration(sides)*(max(f.warmup, 0)+max(f.pause, 0))
	fmt.Fprintf(stderr, "comparing with bare vegeta on %s: %d rounds of %s per side at %g/s, seed %d (about %s)\n",
		f.target, f.runs, f.duration, f.rate, f.seed, total.Round(time.Second))
	res, err := loadgen.Baseline(ctx, opts)
	if err != nil && !(ctx.Err() != nil && len(res.Runs) > 0) {
		if ctx.Err() != nil {
			return &exitError{code: exitInterrupted, msg: "interrupted before a round completed"}
		}
		return usageExit(err, loadgen.ErrInvalidBaselineOptions, traffic.ErrInvalidOptions)
	}
	if werr := writeBaseline(stdout, res, !f.noPrebuilt, !f.noLive); werr != nil {
		return werr
	}
	if err != nil {
		return &exitError{code: exitInterrupted, msg: fmt.Sprintf("interrupted after %d of %d rounds: the medians above are of those", len(res.Runs), f.runs)}
	}
	return nil
}

// negativeIfZero maps a flag's 0 ("none") to the negative duration that means
// none in loadgen.BaselineOptions, where 0 means the default.
func negativeIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func codes(c map[uint16]uint64) string {
	var parts []string
	for _, code := range []uint16{200, 204, 400, 401, 413, 429, 500, 503, 0} {
		if n := c[code]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d×%d", n, code))
		}
	}
	other := uint64(0)
	for code, n := range c {
		switch code {
		case 200, 204, 400, 401, 413, 429, 500, 503, 0:
		default:
			other += n
		}
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("%d other", other))
	}
	if len(parts) == 0 {
		return "no replies"
	}
	return strings.Join(parts, ", ")
}

// writeBaseline prints the comparison as a table.
func writeBaseline(w io.Writer, r loadgen.BaselineResult, prebuilt, live bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "shakedown bench vegeta: %d rounds of %s per side at %g/s, %s workers each\n",
		len(r.Runs), r.Duration, r.Rate, workers(r.MaxWorkers))
	fmt.Fprintf(&b, "  bare       %d static requests in the stream's mix: mean %.0f bytes, %.1f events\n", len(r.Statics), r.StaticMeanBytes, r.StaticMeanEvents)
	for i, st := range r.Statics {
		if i == 3 {
			fmt.Fprintf(&b, "             ... and %d more\n", len(r.Statics)-i)
			break
		}
		shape := ""
		if st.Kind != "" {
			shape = fmt.Sprintf(" (%s, %s)", st.Kind, st.Encoding)
		}
		fmt.Fprintf(&b, "             %4.1f%% %s %s%s: %d bytes, %d events\n", 100*st.Share, st.Method, st.URL, shape, st.Bytes, st.Events)
	}
	var built, repeated, realBuilt, realDuring, liveDuring uint64
	for _, run := range r.Runs {
		built, repeated = built+run.Prebuilt.Built, repeated+run.Prebuilt.Repeated
		realBuilt, realDuring, liveDuring = realBuilt+run.Realistic.Built, realDuring+run.Realistic.BuiltDuring, liveDuring+run.Live.BuiltDuring
	}
	if prebuilt {
		fmt.Fprintf(&b, "  prebuilt   vegeta, fresh requests of the stream built before each attack: %d built", built)
		if repeated > 0 {
			fmt.Fprintf(&b, ", %d sent again once all were sent (raise --duration or lower --rate)", repeated)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  realistic  shakedown load, fresh requests of the stream (mean %.0f bytes, %.1f events): %d built before the attacks, %d during them\n",
		r.MeanBytes, r.MeanEvents, realBuilt, realDuring)
	if live {
		fmt.Fprintf(&b, "  live       shakedown load --prebuild-memory 0: all %d built during the attacks\n", liveDuring)
	}
	b.WriteString("\n")

	type column struct {
		head   string
		format string
		value  func(loadgen.BaselineRun) float64
		median float64
	}
	cols := []column{{"bare/s", "%.0f", func(r loadgen.BaselineRun) float64 { return r.Bare.Rate }, r.MedianBare}}
	if prebuilt {
		cols = append(cols, column{"prebuilt/s", "%.0f", func(r loadgen.BaselineRun) float64 { return r.Prebuilt.Rate }, r.MedianPrebuilt})
	}
	cols = append(cols, column{"realistic/s", "%.0f", func(r loadgen.BaselineRun) float64 { return r.Realistic.Rate }, r.MedianRealistic})
	if live {
		cols = append(cols, column{"live/s", "%.0f", func(r loadgen.BaselineRun) float64 { return r.Live.Rate }, r.MedianLive})
	}
	cols = append(cols, column{"realistic/bare", "%.2f", func(r loadgen.BaselineRun) float64 { return r.Ratio }, r.MedianRatio})
	if prebuilt {
		cols = append(cols, column{"realistic/prebuilt", "%.2f", func(r loadgen.BaselineRun) float64 { return r.PrebuiltRatio }, r.MedianPrebuiltRatio})
	}
	if live {
		cols = append(cols, column{"live/bare", "%.2f", func(r loadgen.BaselineRun) float64 { return r.LiveRatio }, r.MedianLiveRatio})
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "round\t")
	for _, c := range cols {
		fmt.Fprint(tw, c.head, "\t")
	}
	fmt.Fprintln(tw)
	for i, run := range r.Runs {
		fmt.Fprintf(tw, "%d\t", i+1)
		for _, c := range cols {
			fmt.Fprintf(tw, c.format+"\t", c.value(run))
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "median\t")
	for _, c := range cols {
		fmt.Fprintf(tw, c.format+"\t", c.median)
	}
	fmt.Fprintln(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	cpu := func(f func(loadgen.BaselineRun) loadgen.BaselineAttack) string {
		var total time.Duration
		var n uint64
		for _, run := range r.Runs {
			a := f(run)
			total += a.CPU
			n += a.Success
		}
		if n == 0 || total == 0 {
			return "n/a"
		}
		return (total / time.Duration(n)).Round(time.Microsecond).String()
	}
	fmt.Fprintf(&b, "\nCPU time of this process per successful request: bare %s", cpu(func(r loadgen.BaselineRun) loadgen.BaselineAttack { return r.Bare }))
	if prebuilt {
		fmt.Fprintf(&b, ", prebuilt %s", cpu(func(r loadgen.BaselineRun) loadgen.BaselineAttack { return r.Prebuilt }))
	}
	fmt.Fprintf(&b, ", realistic %s", cpu(func(r loadgen.BaselineRun) loadgen.BaselineAttack { return r.Realistic }))
	if live {
		fmt.Fprintf(&b, ", live %s", cpu(func(r loadgen.BaselineRun) loadgen.BaselineAttack { return r.Live }))
	}
	b.WriteString(" (building before an attack is not counted)\n")
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write the comparison: %w", err)
	}
	return nil
}

func workers(n uint64) string {
	if n == math.MaxUint64 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}
