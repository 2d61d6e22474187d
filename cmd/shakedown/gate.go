package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/gate"
	"github.com/shakedown-dev/shakedown/internal/junit"
	"github.com/shakedown-dev/shakedown/internal/progress"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/loadgen/report"
	"github.com/shakedown-dev/shakedown/result"
)

type gateFlags struct {
	file, state, target, token string
	chart                      string
	kubeconfig, namespace      string
	release, cloud             string
	values                     []string
	clickhouse, chUser, chPass string
	chDatabase, baseline, out  string
	postgres                   string
	reports                    []string
	deploymentFlags            bool // --target, --token or --clickhouse was given, even empty
	seed                       uint64
}

// newGateCmd is `shakedown gate`: one verdict for a release.
func newGateCmd() *cobra.Command {
	var f gateFlags
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "Give one verdict for a release: chart, install, smoke, e2e, load, faults and go-live stages",
		Long: `Runs the stages of a gate file against a release and gives one verdict:

  chart  with --chart: lint over every cloud overlay and Kubernetes version, and
         the chart's helm-unittest suites;
  install with --kubeconfig: install --chart as --release in --namespace, or
         upgrade it when it exists, and wait until every resource is ready;
  smoke  liveness, readiness, the ingestion metrics, the event store answering;
  e2e    events sent == events stored, per uuid, in every encoding; flags answered
         on /flags (v=2) and /decide (v=3); real PostHog SDKs (posthog-go by
         default) with flags configured and evaluated end to end (--postgres);
  load   realistic traffic at a paced rate, held to thresholds (and, with
         --baseline, to an earlier gate result's p95 and throughput within the
         gate file's margin);
  faults with --state: ClickHouse and PostgreSQL paused and killed, the worker
         restarted, one at a time while events stream in: RPO (acknowledged
         events lost) must be 0, RTO (from the fault's end until an event sent
         then is stored) within the gate file's bound;
  go-live the production checklist: an https target's certificate verifies and
         stays valid N days, a declared burst draws 429 with Retry-After, CORS
         preflights answered as declared, the events table's TTL as declared
         (what the gate file does not declare is skipped, saying what to declare).

The gate file (--gate, default ./gate.yaml when present, else the defaults that
` + "`shakedown gate init`" + ` writes) turns stages off and sets what they hold the release to.
The report opens with the verdict and the first failing stage with its evidence.
With GITHUB_STEP_SUMMARY set, the Markdown report is appended to it.

Exit status: 0 the gate passed, 1 it failed, 2 used wrong (flags, gate file),
130 interrupted (the checks made so far are reported).`,
		Example: `  shakedown gate init                       # writes a commented gate.yaml
  shakedown gate --state .stack
  shakedown gate --state .stack --report html --report md --report json --out gate-report
  shakedown gate --state .stack --baseline previous/gate.json
  shakedown gate --chart charts/reference-stack --state .stack
  shakedown gate --chart charts/reference-stack --kubeconfig staging.yaml --release ingest \
    --namespace ingest --cloud aws --target https://capture.staging.example --token phc_x`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range []string{"target", "token", "clickhouse"} {
				f.deploymentFlags = f.deploymentFlags || cmd.Flags().Changed(name)
			}
			return runGate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, cmd.Flags().Changed("gate"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.file, "gate", "gate.yaml", "gate file (see `shakedown gate init`); without it, the defaults")
	fl.StringVar(&f.chart, "chart", "", "the release's Helm chart (directory or .tgz): the chart stage lints it and runs its helm-unittest suites")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "install or upgrade --chart as --release on this cluster first (the install stage), and look for its backups")
	fl.StringVar(&f.namespace, "namespace", "default", "the release's namespace (with --kubeconfig)")
	fl.StringVar(&f.release, "release", "shakedown", "the release's name (with --kubeconfig)")
	fl.StringVar(&f.cloud, "cloud", "", "with --kubeconfig: apply the chart's overlay values/<cloud>.yaml")
	fl.StringArrayVar(&f.values, "values", nil, "with --kubeconfig: values file, repeatable, later ones winning")
	fl.StringVar(&f.state, "state", "", "the deployment of DIR/stack.json (see `shakedown stack up --state`)")
	fl.StringVar(&f.target, "target", "", "capture API base URL (default: from --state)")
	fl.StringVar(&f.token, "token", "", "project API token (default: from --state)")
	fl.StringVar(&f.clickhouse, "clickhouse", "", "ClickHouse native address host:port the events land in (default: from --state)")
	fl.StringVar(&f.chUser, "clickhouse-user", "", "ClickHouse user (default: from --state, else \"default\")")
	fl.StringVar(&f.chPass, "clickhouse-password", "", "ClickHouse password (default: from --state, else $CLICKHOUSE_PASSWORD)")
	fl.StringVar(&f.chDatabase, "clickhouse-database", "default", "ClickHouse database holding the events table")
	fl.StringVar(&f.postgres, "postgres", "", "the deployment's PostgreSQL DSN: the e2e stage's SDK checks configure and check flags there (default: from --state)")
	fl.StringVar(&f.baseline, "baseline", "", "an earlier gate's JSON result: fail on a load regression beyond the gate file's margin")
	fl.StringArrayVar(&f.reports, "report", nil, "report format, repeatable: text, json, junit, md, html (default text)")
	fl.StringVar(&f.out, "out", "", "write reports to DIR/gate.<ext> (default: stdout)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the e2e events and the load traffic (default random, in the report)")
	cmd.AddCommand(newGateInitCmd())
	return cmd
}

func newGateInitCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write a commented gate file with the default stages (default ./gate.yaml)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "gate.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			if _, err := os.Stat(path); err == nil && !force {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("%s exists: pass --force to overwrite it", path)}
			}
			if err := os.WriteFile(path, gate.DefaultFile(), 0o644); err != nil {
				return fmt.Errorf("write the gate file: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: edit it, then run `shakedown gate --gate %s --state DIR`\n", path, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}

func runGate(ctx context.Context, stdout, stderr io.Writer, f gateFlags, fileGiven bool) error {
	usage := func(format string, a ...any) error {
		return &exitError{code: exitUsage, msg: fmt.Sprintf(format, a...)}
	}
	t := gate.Target{CaptureURL: f.target, Token: f.token, ClickHouse: f.clickhouse, User: f.chUser, Password: f.chPass, Database: f.chDatabase, Postgres: f.postgres}
	if f.state != "" {
		e, err := stack.ReadState(f.state)
		if err != nil {
			return usage("--state: %v", err)
		}
		t.CaptureURL, t.Token = orFlag(t.CaptureURL, e.CaptureURL), orFlag(t.Token, e.Token)
		t.ClickHouse, t.User, t.Password = orFlag(t.ClickHouse, e.ClickHouseNative), orFlag(t.User, e.ClickHouseUser), orFlag(t.Password, e.ClickHousePassword)
		if t.CaptureURL == e.CaptureURL { // faults break the stack of the state file: only when it is the target
			t.ControlURL, t.ControlToken = e.ControlURL, e.ControlToken
			t.Postgres = orFlag(f.postgres, e.PostgresDSN)
		}
	}
	t.Password = orFlag(t.Password, os.Getenv("CLICKHOUSE_PASSWORD"))
	if (f.deploymentFlags || f.state != "") && (t.CaptureURL == "" || t.Token == "") {
		// A deployment half given (an empty secret in CI, say) must not pass
		// the gate by skipping every stage that needs it.
		return usage("a deployment needs its capture URL and a project token: --target %q --token given %v (or --state DIR)", t.CaptureURL, t.Token != "")
	}
	if (t.CaptureURL == "" || t.Token == "") && f.chart == "" {
		return usage("nothing to gate: pass --state DIR of `shakedown stack up --state DIR`, or --target URL --token T --clickhouse host:port, and/or --chart DIR")
	}
	if len(f.reports) == 0 {
		f.reports = []string{"text"}
	}
	for _, r := range f.reports {
		if _, ok := result.Formats[r]; !ok {
			return usage("--report %q: want text, json, junit, md or html", r)
		}
	}
	if f.kubeconfig != "" && f.chart == "" {
		return usage("--kubeconfig installs the release's chart: pass --chart DIR too")
	}
	opts := gate.Options{Target: t, Chart: f.chart, UnitWorker: unitWorker(stderr), Seed: f.seed, Meta: map[string]string{"command": report.CommandLine(os.Args)}}
	if _, err := os.Stat(f.file); err == nil || fileGiven {
		cfg, err := gate.ReadConfig(f.file)
		if err != nil {
			return usageExit(err, gate.ErrInvalidConfig)
		}
		opts.Config = cfg
		opts.Meta["gate file"] = f.file
	} else {
		opts.Meta["gate file"] = "(defaults: no gate.yaml here)"
	}
	if f.kubeconfig != "" {
		opts.Cluster = &gate.Cluster{Kubeconfig: f.kubeconfig, Namespace: f.namespace, Release: f.release, Cloud: f.cloud, Values: f.values}
	}
	if f.baseline != "" {
		b, err := result.Read(f.baseline)
		if err != nil {
			return usage("--baseline: %v", err)
		}
		opts.Baseline = b
	}
	steps := progress.New(stderr)
	opts.Progress = func(stage, step string) { steps.Step(stage + ": " + step) }
	rep, err := gate.Run(ctx, opts)
	steps.Done()
	if rep == nil {
		return usageExit(err, gate.ErrInvalidConfig)
	}
	if werr := writeGateReports(stdout, f, rep); werr != nil {
		return werr
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return &exitError{code: exitInterrupted, msg: "interrupted; the report holds the checks made so far"}
	case err != nil:
		return err
	case !rep.Passed():
		return &exitError{code: exitCheckFailed, msg: fmt.Sprintf("gate failed at stage %s", failedStage(rep))}
	}
	return nil
}

func failedStage(r *result.Report) string {
	if r.FirstFailure != nil {
		return r.FirstFailure.Stage
	}
	return "(none ran)"
}

// writeGateReports writes every --report format, to --out DIR or stdout, and
// the Markdown report to GitHub's step summary when it is set.
func writeGateReports(stdout io.Writer, f gateFlags, rep *result.Report) error {
	for _, format := range f.reports {
		if f.out == "" {
			if err := rep.Write(stdout, format); err != nil {
				return err
			}
			continue
		}
		path := filepath.Join(f.out, "gate."+result.Formats[format])
		if err := junit.WriteFile(path, func(w io.Writer) error { return rep.Write(w, format) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	return appendStepSummary(rep.WriteMarkdown)
}
