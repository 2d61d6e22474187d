package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/chconn"
	"github.com/shakedown-dev/shakedown/internal/junit"
	"github.com/shakedown-dev/shakedown/internal/progress"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/suites/e2e"
	"github.com/shakedown-dev/shakedown/suites/e2e/sdk"
)

type e2eFlags struct {
	state, target, token  string
	clickhouse, database  string
	chUser, chPassword    string
	events, people        int
	concurrency, maxBatch int
	seed                  uint64
	wait                  time.Duration
	// SDK conformance (--sdk)
	sdks, postgres     string
	chromium, npmCache string
	format, junit      string
	eventsSet          bool // --events was given
}

func newE2ECmd() *cobra.Command {
	var f e2eFlags
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Send events in every PostHog shape and encoding and check each is stored exactly once",
		Long: `Sends --events generated events (client-made uuids, spread over --people ids) to a running
stack's capture API as single events and batches in every encoding PostHog clients use,
then waits until ClickHouse holds every acknowledged event and checks that each is
stored exactly once (count() FINAL and distinct uuids both equal what was acknowledged).
Exit status 1 when an event is missing or counted twice.

With --sdk, drives the real PostHog SDKs instead: posthog-go (compiled in),
posthog-node (node; node-v1 in its capture mode v1) and posthog-js (installed
with npm into a cache on first use; posthog-js runs in headless Chromium). Each sends captures, $set/$set_once,
alias, identify and group identify (posthog-js: gzip with a beacon on unload,
and a page with compression off), then every event it delivered must be
stored exactly once and merged persons must resolve to one person. With
PostgreSQL (--postgres, or from --state) the run also configures flags whose
keys start with "shakedown-" (boolean with payload, multivariate, person and
group properties) and checks each SDK evaluates them as configured.
Exit status 1 when a check fails, 2 for a wrong flag.`,
		Example: `  shakedown e2e --state .stack
  shakedown e2e --target https://capture.eu.example --token phc_x --clickhouse ch.eu.example:9000 --events 50000
  shakedown e2e --state .stack --sdk go,node,js,js@1.200.2
  shakedown e2e --state .stack --sdk node@5.70.0 --format json --junit sdk.xml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.eventsSet = cmd.Flags().Changed("events")
			return runE2E(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.state, "state", "", "read target, token and ClickHouse address from DIR/stack.json (see `shakedown stack up --state`)")
	fl.StringVar(&f.target, "target", "", "capture API base URL (default: from --state)")
	fl.StringVar(&f.token, "token", "", "project API token (default: from --state)")
	fl.StringVar(&f.clickhouse, "clickhouse", "", "ClickHouse native address host:port (default: from --state)")
	fl.StringVar(&f.database, "clickhouse-database", "default", "ClickHouse database holding the events table")
	fl.StringVar(&f.chUser, "clickhouse-user", "", "ClickHouse user (default: from --state, else \"default\")")
	fl.StringVar(&f.chPassword, "clickhouse-password", "", "ClickHouse password (default: from --state, else $CLICKHOUSE_PASSWORD; prefer those to keep it off the command line)")
	fl.IntVar(&f.events, "events", 10_000, "how many events to send (with --sdk: captures per SDK, default 200; posthog-js sends at most 30 per page)")
	fl.IntVar(&f.people, "people", 500, "how many distinct people the events come from")
	fl.IntVar(&f.concurrency, "concurrency", 8, "requests in flight")
	fl.IntVar(&f.maxBatch, "max-batch", 50, "largest batch in one request")
	fl.Uint64Var(&f.seed, "seed", uint64(time.Now().UnixNano()), "seed of the events and of the mix (default random, printed)")
	fl.DurationVar(&f.wait, "wait", 2*time.Minute, "how long acknowledged events may take to become queryable")
	fl.StringVar(&f.sdks, "sdk", "", "drive these real SDKs instead of the generated mix: go, node, node-v1 (capture mode v1), js, each optionally @version (js@1.200.2)")
	fl.StringVar(&f.postgres, "postgres", "", "with --sdk: PostgreSQL DSN of the deployment, to configure and check flags, persons and groups (default: from --state)")
	fl.StringVar(&f.chromium, "chromium", "", "with --sdk js: the Chromium binary (default: chromium on PATH, then /usr/bin/chromium)")
	fl.StringVar(&f.npmCache, "npm-cache", "", "with --sdk: where npm installs of the SDKs are cached (default: the user cache dir's shakedown/npm)")
	fl.StringVar(&f.format, "format", "text", "with --sdk: report format on stdout: text, json, md or html")
	fl.StringVar(&f.junit, "junit", "", "with --sdk: also write a JUnit XML report to FILE")
	return cmd
}

func runE2E(ctx context.Context, stdout, stderr io.Writer, f e2eFlags) error {
	if f.state != "" {
		e, err := stack.ReadState(f.state)
		if err != nil {
			return err
		}
		f.target = orFlag(f.target, e.CaptureURL)
		f.token = orFlag(f.token, e.Token)
		f.clickhouse = orFlag(f.clickhouse, e.ClickHouseNative)
		f.chUser = orFlag(f.chUser, e.ClickHouseUser)
		f.chPassword = orFlag(f.chPassword, e.ClickHousePassword)
		if f.sdks != "" {
			f.postgres = orFlag(f.postgres, e.PostgresDSN)
		}
	}
	switch {
	case f.target == "" || f.token == "":
		return &exitError{code: exitUsage, msg: "no capture API: pass --state DIR, or --target URL and --token T"}
	case f.clickhouse == "":
		return &exitError{code: exitUsage, msg: "no ClickHouse to check against: pass --state DIR or --clickhouse host:port"}
	case f.events < 1 || f.people < 1:
		return &exitError{code: exitUsage, msg: "--events and --people must be at least 1"}
	}
	var specs []sdk.Spec
	if f.sdks != "" {
		var err error
		if specs, err = sdk.ParseSpecs(f.sdks); err != nil {
			return usageExit(err, sdk.ErrInvalidOptions)
		}
		if !slices.Contains([]string{"text", "json", "md", "html"}, f.format) {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("--format %q: use text, json, md or html", f.format)}
		}
	}
	f.chPassword = orFlag(f.chPassword, os.Getenv("CLICKHOUSE_PASSWORD"))
	conn, err := chconn.Open(ctx, f.clickhouse, f.chUser, f.chPassword)
	if err != nil {
		return fmt.Errorf("%w (check --clickhouse, --clickhouse-user and --clickhouse-password)", err)
	}
	defer conn.Close()

	if specs != nil {
		return runSDKs(ctx, stdout, stderr, f, specs, conn)
	}
	steps := progress.New(stderr)
	res, err := e2e.Run(ctx, e2e.Options{Target: f.target, Token: f.token, ClickHouse: conn, Database: f.database,
		Events: f.events, People: f.people, Seed: f.seed, Concurrency: f.concurrency, MaxBatch: f.maxBatch, Wait: f.wait,
		Progress: steps.Step})
	if err != nil {
		steps.Fail()
		return usageExit(err, e2e.ErrInvalidOptions)
	}
	if res.Passed() {
		steps.Done()
	} else {
		steps.Fail()
	}
	sent, stored := res.Sent, res.Stored
	fmt.Fprintf(stdout, "sent          %d events in %d requests, all acknowledged\n", len(sent.Acked), sent.Requests)
	fmt.Fprintf(stdout, "by encoding   %s\n", byEncoding(sent.ByEncoding))
	fmt.Fprintf(stdout, "statuses      %v (retries included)\n", sent.Status)
	fmt.Fprintf(stdout, "stored        %d rows (FINAL), %d distinct uuids, %d duplicate rows folded\n",
		stored.Rows, stored.Distinct, stored.RawRows-min(stored.RawRows, stored.Distinct))
	fmt.Fprintf(stdout, "missing       %d\n", stored.MissingCount)
	if !res.Passed() {
		return &exitError{code: exitCheckFailed, msg: res.Failure()}
	}
	fmt.Fprintln(stdout, "PASS: events sent == events stored")
	return nil
}

// sdkDefaultEvents is how many captures each SDK sends when --events is not given.
const sdkDefaultEvents = 200

// runSDKs maps the --sdk flags to the SDK conformance layer and prints its report.
func runSDKs(ctx context.Context, stdout, stderr io.Writer, f e2eFlags, specs []sdk.Spec, conn driver.Conn) error {
	opts := sdk.Options{Target: f.target, Token: f.token, ClickHouse: conn, Database: f.database, SDKs: specs,
		Events: f.events, CacheDir: f.npmCache, Chromium: f.chromium, Wait: f.wait}
	if !f.eventsSet { // the generated mix's default is far more than an SDK check needs
		opts.Events = sdkDefaultEvents
	}
	if f.postgres != "" {
		pool, err := pgxpool.New(ctx, f.postgres)
		if err != nil {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("--postgres: %v", err)}
		}
		defer pool.Close()
		if err := pool.Ping(ctx); err != nil {
			return fmt.Errorf("PostgreSQL does not answer: %w (check --postgres)", err)
		}
		opts.Postgres = pool
	} else {
		fmt.Fprintln(stderr, "note: no --postgres: flags, stored persons and groups are not checked")
	}
	steps := progress.New(stderr)
	opts.Progress = steps.Step
	res, err := sdk.Run(ctx, opts)
	if res == nil {
		steps.Fail()
		return usageExit(err, sdk.ErrInvalidOptions)
	}
	steps.Done()
	var werr error
	switch f.format {
	case "json":
		werr = res.WriteJSON(stdout)
	case "md":
		werr = res.Report().WriteMarkdown(stdout)
	case "html":
		werr = res.Report().WriteHTML(stdout)
	default:
		werr = res.WriteText(stdout)
	}
	if werr != nil {
		return werr
	}
	if f.junit != "" {
		if werr := junit.WriteFile(f.junit, res.WriteJUnit); werr != nil {
			return werr
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return &exitError{code: exitInterrupted, msg: "interrupted; the report above is partial"}
	case err != nil:
		return err
	case res.Failed():
		return &exitError{code: exitCheckFailed, msg: "SDK conformance failed (see the checks above)"}
	}
	return nil
}

func orFlag(flag, fromState string) string {
	if flag != "" {
		return flag
	}
	return fromState
}

func byEncoding[K ~string](m map[K]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%s=%d", k, m[K(k)])
	}
	return out
}
