package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/shakedown-dev/shakedown/internal/progress"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/reference/capture"
	"github.com/shakedown-dev/shakedown/reference/edge"
)

func newStackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Run the reference ingestion stack",
	}
	cmd.AddCommand(newStackUpCmd())
	return cmd
}

type stackUpFlags struct {
	listen   string
	state    string
	token    string
	logLevel string
	rate     float64
	burst    int
	proxies  string
	origins  string
	keep     string
	provider string
}

func newStackUpCmd() *cobra.Command {
	var f stackUpFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the stack on this machine (kfake, clickhouse-server, postgres; capture, worker, decide in-process) until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStackUp(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	cmd.Flags().StringVar(&f.provider, "provider", "local", "where the stack runs: local (child processes and in-process components) or docker (containers of locally built images, through testcontainers-go; starts dockerd when none answers, as root)")
	cmd.Flags().StringVar(&f.listen, "listen", local.DefaultListen, "capture API listen address (127.0.0.1:0 for any free port)")
	cmd.Flags().StringVar(&f.state, "state", "", "write DIR/stack.json with the endpoints and token")
	cmd.Flags().StringVar(&f.token, "token", "", "project token to create (default: a random phc_ token)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "warn", "component log level: debug, info, warn, error")
	cmd.Flags().Float64Var(&f.rate, "rate-limit", 0, "events per second allowed per project token before capture answers 429 (0: no limit)")
	cmd.Flags().IntVar(&f.burst, "rate-burst", 0, "per-token burst in events (default: the rate limit)")
	cmd.Flags().StringVar(&f.keep, "keep", "", "keep ClickHouse and PostgreSQL data and the token in DIR across runs (Kafka stays in memory: events not yet consumed are lost if the process is killed)")
	cmd.Flags().StringVar(&f.proxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For names the client (default: none, the client is the peer)")
	cmd.Flags().StringVar(&f.origins, "cors-origins", "", `comma-separated browser origins allowed with credentials (default: any origin, without credentials; "*": reflect any origin, as PostHog does)`)
	return cmd
}

func runStackUp(ctx context.Context, stdout, stderr io.Writer, f stackUpFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	if f.rate < 0 || f.burst < 0 {
		return fmt.Errorf("--rate-limit and --rate-burst must not be negative")
	}
	proxies, err := edge.ParseProxies(f.proxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	cors, err := edge.ParseCORSOrigins(f.origins)
	if err != nil {
		return fmt.Errorf("--cors-origins: %w", err)
	}
	switch f.provider {
	case "local":
	case "docker":
		if f.keep != "" {
			return &exitError{code: exitUsage, msg: "--keep is for the local provider: the docker provider's data lives in its containers, removed when the stack stops"}
		}
		return runDockerStackUp(ctx, stdout, stderr, f, level)
	default:
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--provider %q: want local or docker", f.provider)}
	}
	progressOut := progress.New(stderr)
	started := time.Now()
	s, err := local.Up(ctx, local.Options{
		Listen:         f.listen,
		Token:          f.token,
		Logger:         slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		Progress:       progressOut.Step,
		KeepDir:        f.keep,
		CORS:           cors,
		TrustedProxies: proxies,
		Capture: func(c *capture.Config) {
			c.RatePerToken, c.RateBurst = rate.Limit(f.rate), f.burst
		},
	})
	if err != nil {
		progressOut.Fail()
		return err
	}
	progressOut.Done()
	defer func() {
		fmt.Fprintln(stderr, "stopping the stack ...")
		if err := s.Close(context.Background()); err != nil {
			fmt.Fprintln(stderr, "shakedown: stop:", err)
		}
	}()
	if f.state != "" {
		cleanup, err := publishState(stdout, f.state, &s.Endpoints, s.ControlHandler)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	printEndpoints(stdout, s.Endpoints, "in-process kfake", time.Since(started))
	if f.keep != "" {
		fmt.Fprintf(stdout, "ClickHouse and PostgreSQL data and the token are kept in %s; `stack up --keep %s` finds them again.\n", f.keep, f.keep)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-s.Done():
		return &exitError{code: exitCheckFailed, msg: fmt.Sprintf("the stack failed: %v", s.Err())}
	}
}

func printEndpoints(w io.Writer, e stack.Endpoints, kafka string, took time.Duration) {
	fmt.Fprintf(w, "reference stack up in %s\n", took.Round(10*time.Millisecond))
	fmt.Fprintf(w, "  capture    %s  (POST /e /batch /capture ..., GET /decide?v=3, /metrics)\n", e.CaptureURL)
	fmt.Fprintf(w, "  token      %s\n", e.Token)
	// Passwords are never printed: they are only in stack.json (mode 0600, --state).
	fmt.Fprintf(w, "  clickhouse native %s  http %s  user %s (read-only; password: clickhouse_password in --state DIR/stack.json)\n",
		e.ClickHouseNative, e.ClickHouseHTTP, e.ClickHouseUser)
	fmt.Fprintf(w, "  postgres   %s (password: postgres_dsn in --state DIR/stack.json)\n", redactDSN(e.PostgresDSN))
	fmt.Fprintf(w, "  kafka      %s (%s)\n", strings.Join(e.KafkaBrokers, ","), kafka)
	fmt.Fprintf(w, "try:\n  curl -s %s/batch -H 'Content-Type: application/json' -d '{\"api_key\":\"%s\",\"batch\":[{\"event\":\"hello\",\"distinct_id\":\"me\"}]}'\n", e.CaptureURL, e.Token)
	fmt.Fprintf(w, "  echo 'SELECT event, distinct_id, timestamp FROM events FINAL' | curl -s -u %s:PASSWORD %s/ --data-binary @-\n", e.ClickHouseUser, e.ClickHouseHTTP)
	fmt.Fprintln(w, "Ctrl-C stops the stack and removes its data (not with --keep DIR).")
}

// redactDSN hides the password of a URL-form DSN; a DSN that is not a URL is hidden
// whole, since it may hold a password=... pair.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(DSN hidden)"
	}
	return u.Redacted()
}

// publishState serves the stack's control endpoint and writes DIR/stack.json with it;
// cleanup stops serving and removes the file. Drills run from another process
// (shakedown gate --state) take their fault actions through that endpoint, on loopback,
// behind a token only stack.json (mode 0600) holds.
func publishState(stdout io.Writer, dir string, e *stack.Endpoints, handler func(token string) http.Handler) (cleanup func(), err error) {
	ctl, err := serveControl(handler)
	if err != nil {
		return nil, err
	}
	e.ControlURL, e.ControlToken = "http://"+ctl.Addr().String(), ctl.token
	path, err := stack.WriteState(dir, *e)
	if err != nil {
		ctl.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "state written to %s\n", path)
	return func() { os.Remove(path); ctl.Close() }, nil
}

// controlServer serves a stack's ControlHandler.
type controlServer struct {
	net.Listener
	token string
	srv   *http.Server
}

// serveControl serves a stack's control handler on a free loopback port with a
// random token.
func serveControl(handler func(token string) http.Handler) (*controlServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("control endpoint: %w", err)
	}
	token := rand.Text()
	c := &controlServer{Listener: l, token: token,
		srv: &http.Server{Handler: handler(token), ReadHeaderTimeout: 5 * time.Second}}
	go c.srv.Serve(l)
	return c, nil
}

// Close stops serving.
func (c *controlServer) Close() error { return c.srv.Close() }
