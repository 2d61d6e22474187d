package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/progress"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/suites/e2e"
)

type e2eFlags struct {
	state, target, token  string
	clickhouse, database  string
	events, people        int
	concurrency, maxBatch int
	seed                  uint64
	wait                  time.Duration
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
Exit status 1 when an event is missing or counted twice.`,
		Example: `  shakedown e2e --state .stack
  shakedown e2e --target https://capture.eu.example --token phc_x --clickhouse ch.eu.example:9000 --events 50000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runE2E(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.state, "state", "", "read target, token and ClickHouse address from DIR/stack.json (see `shakedown stack up --state`)")
	fl.StringVar(&f.target, "target", "", "capture API base URL (default: from --state)")
	fl.StringVar(&f.token, "token", "", "project API token (default: from --state)")
	fl.StringVar(&f.clickhouse, "clickhouse", "", "ClickHouse native address host:port (default: from --state)")
	fl.StringVar(&f.database, "clickhouse-database", "default", "ClickHouse database holding the events table")
	fl.IntVar(&f.events, "events", 10_000, "how many events to send")
	fl.IntVar(&f.people, "people", 500, "how many distinct people the events come from")
	fl.IntVar(&f.concurrency, "concurrency", 8, "requests in flight")
	fl.IntVar(&f.maxBatch, "max-batch", 50, "largest batch in one request")
	fl.Uint64Var(&f.seed, "seed", uint64(time.Now().UnixNano()), "seed of the events and of the mix (default random, printed)")
	fl.DurationVar(&f.wait, "wait", 2*time.Minute, "how long acknowledged events may take to become queryable")
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
	}
	switch {
	case f.target == "" || f.token == "":
		return fmt.Errorf("no capture API: pass --state DIR, or --target URL and --token T")
	case f.clickhouse == "":
		return fmt.Errorf("no ClickHouse to check against: pass --state DIR or --clickhouse host:port")
	case f.events < 1 || f.people < 1:
		return fmt.Errorf("--events and --people must be at least 1")
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{f.clickhouse}})
	if err != nil {
		return fmt.Errorf("connect to ClickHouse %s: %w", f.clickhouse, err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("ClickHouse %s does not answer: %w (check --clickhouse)", f.clickhouse, err)
	}

	steps := progress.New(stderr)
	steps.Step(fmt.Sprintf("sending %d events to %s (seed %d)", f.events, f.target, f.seed))
	events := e2e.Generate(f.seed, f.events, f.people)
	sent, err := e2e.Send(ctx, f.target, f.token, events, e2e.SendOptions{Seed: f.seed, Concurrency: f.concurrency, MaxBatch: f.maxBatch})
	if err != nil {
		steps.Fail()
		return err
	}
	steps.Step(fmt.Sprintf("waiting for %d acknowledged events in ClickHouse", len(sent.Acked)))
	stored, waitErr := e2e.WaitStored(ctx, conn, f.database, sent.Acked, f.wait)
	if waitErr != nil {
		steps.Fail()
	} else {
		steps.Done()
	}

	fmt.Fprintf(stdout, "sent          %d events in %d requests, all acknowledged\n", len(sent.Acked), sent.Requests)
	fmt.Fprintf(stdout, "by encoding   %s\n", byEncoding(sent.ByEncoding))
	fmt.Fprintf(stdout, "statuses      %v (retries included)\n", sent.Status)
	fmt.Fprintf(stdout, "stored        %d rows (FINAL), %d distinct uuids, %d duplicate rows folded\n",
		stored.Rows, stored.Distinct, stored.RawRows-min(stored.RawRows, stored.Distinct))
	fmt.Fprintf(stdout, "missing       %d\n", stored.MissingCount)
	want := uint64(len(sent.Acked))
	switch {
	case waitErr != nil:
		return &exitError{code: 1, msg: waitErr.Error()}
	case stored.Rows != want || stored.Distinct != want:
		return &exitError{code: 1, msg: fmt.Sprintf("events sent != events stored: %d acknowledged, %d rows (FINAL), %d distinct", want, stored.Rows, stored.Distinct)}
	}
	fmt.Fprintln(stdout, "PASS: events sent == events stored")
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
