// Package serve runs one component of the reference stack (capture, worker or decide)
// as its own process against real Kafka, ClickHouse and PostgreSQL, configured from
// the environment the Helm chart sets. It is what the stack's container image runs:
// `shakedown serve capture|worker|decide`.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/shakedown-dev/shakedown/reference/capture"
	"github.com/shakedown-dev/shakedown/reference/decide"
	"github.com/shakedown-dev/shakedown/reference/edge"
	"github.com/shakedown-dev/shakedown/reference/event"
	"github.com/shakedown-dev/shakedown/reference/schema"
	"github.com/shakedown-dev/shakedown/reference/teams"
	"github.com/shakedown-dev/shakedown/reference/worker"
)

// Components that Run knows.
const (
	Capture = "capture"
	Worker  = "worker"
	Decide  = "decide"
	// Kafka runs a single-node Kafka wire-protocol broker (franz-go's kfake), for
	// machines with no Kafka image: the docker stack provider uses it. It keeps
	// records in memory unless KAFKA_DATA_DIR is set.
	Kafka = "kafka"
)

// Config says which component to run and where its dependencies are.
type Config struct {
	// Component is capture, worker or decide.
	Component string
	// Listen is the HTTP address (API for capture/decide; health and metrics for all).
	Listen string
	// KafkaBrokers are the seed brokers (capture, worker).
	KafkaBrokers []string
	// TopicPartitions is used when Run creates missing topics (default 8).
	TopicPartitions int32
	// ClickHouseAddr is host:port of ClickHouse's native protocol (worker).
	ClickHouseAddr string
	// ClickHouseUser, ClickHousePassword and ClickHouseDatabase authenticate and place the events table.
	ClickHouseUser, ClickHousePassword, ClickHouseDatabase string
	// PostgresDSN connects to PostgreSQL (all components).
	PostgresDSN string
	// DecideRefresh is how often capture and decide reload flags and tokens from
	// PostgreSQL (default decide.DefaultRefreshInterval).
	DecideRefresh time.Duration
	// KafkaAdvertisedAddr is the host:port the kafka component tells clients to
	// connect to (default: its listen address).
	KafkaAdvertisedAddr string
	// KafkaDataDir, when set, makes the kafka component keep its log on disk there,
	// written through before a produce is acknowledged.
	KafkaDataDir string
	// Migrate applies the schema migrations at start.
	Migrate bool
	// StartupWait is how long Run retries dependencies that do not answer yet at
	// start (PostgreSQL, Kafka, and ClickHouse for the worker): pods of one release
	// start in any order. Meanwhile the listen address answers /_liveness with 200 and
	// everything else with 503, so an orchestrator neither routes traffic to the
	// component nor restarts it. Zero fails at the first error.
	StartupWait time.Duration
	// RatePerToken limits capture per project token (events/s, 0 = none).
	RatePerToken float64
	// HTTP bounds slow and idle clients (zero fields: edge's defaults).
	HTTP edge.Timeouts
	// CORS is capture's and decide's cross-origin policy (zero: any origin, no credentials).
	CORS edge.CORS
	// TrustedProxies may set X-Forwarded-For (default nobody).
	TrustedProxies edge.Proxies
	// Logger receives the component's logs.
	Logger *slog.Logger
}

// ConfigFromEnv reads a Config from the variables the chart sets: COMPONENT,
// LISTEN_ADDR, KAFKA_BROKERS (comma-separated), KAFKA_TOPIC_PARTITIONS, CLICKHOUSE_ADDR,
// CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE, POSTGRES_DSN, MIGRATE
// (default true), CAPTURE_RATE_PER_TOKEN, HTTP_READ_HEADER_TIMEOUT, HTTP_IDLE_TIMEOUT,
// HTTP_BODY_TIMEOUT (durations like 10s), HTTP_MIN_BODY_RATE (bytes/s), CORS_ORIGINS
// (comma-separated; empty: any origin without credentials, "*": reflect any),
// TRUSTED_PROXIES (comma-separated CIDRs), DECIDE_REFRESH_INTERVAL and STARTUP_WAIT
// (how long to retry dependencies at start, default DefaultStartupWait). component, when not empty, overrides COMPONENT.
func ConfigFromEnv(getenv func(string) string, component string) (Config, error) {
	if component == "" {
		component = getenv("COMPONENT")
	}
	c := Config{
		Component:           component,
		Listen:              orDefault(getenv("LISTEN_ADDR"), defaultListen(component)),
		ClickHouseAddr:      getenv("CLICKHOUSE_ADDR"),
		ClickHouseUser:      orDefault(getenv("CLICKHOUSE_USER"), "default"),
		ClickHousePassword:  getenv("CLICKHOUSE_PASSWORD"),
		ClickHouseDatabase:  orDefault(getenv("CLICKHOUSE_DATABASE"), "default"),
		PostgresDSN:         getenv("POSTGRES_DSN"),
		KafkaAdvertisedAddr: getenv("KAFKA_ADVERTISED_ADDR"),
		KafkaDataDir:        getenv("KAFKA_DATA_DIR"),
		Migrate:             true,
		TopicPartitions:     8,
		StartupWait:         DefaultStartupWait,
	}
	for _, b := range strings.Split(getenv("KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.KafkaBrokers = append(c.KafkaBrokers, b)
		}
	}
	if v := getenv("MIGRATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("MIGRATE=%q: want true or false", v)
		}
		c.Migrate = b
	}
	if v := getenv("KAFKA_TOPIC_PARTITIONS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return c, fmt.Errorf("KAFKA_TOPIC_PARTITIONS=%q: want a whole number of at least 1", v)
		}
		c.TopicPartitions = int32(n)
	}
	if v := getenv("CAPTURE_RATE_PER_TOKEN"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return c, fmt.Errorf("CAPTURE_RATE_PER_TOKEN=%q: want events per second, 0 for no limit", v)
		}
		c.RatePerToken = f
	}
	for _, d := range []struct {
		env string
		to  *time.Duration
	}{{"HTTP_READ_HEADER_TIMEOUT", &c.HTTP.ReadHeader}, {"HTTP_IDLE_TIMEOUT", &c.HTTP.Idle}, {"HTTP_BODY_TIMEOUT", &c.HTTP.Body}} {
		if v := getenv(d.env); v != "" {
			t, err := time.ParseDuration(v)
			if err != nil || t <= 0 {
				return c, fmt.Errorf("%s=%q: want a positive duration such as 10s", d.env, v)
			}
			*d.to = t
		}
	}
	if v := getenv("HTTP_MIN_BODY_RATE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("HTTP_MIN_BODY_RATE=%q: want bytes per second, at least 1", v)
		}
		c.HTTP.MinBodyRate = n
	}
	if v := getenv("STARTUP_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("STARTUP_WAIT=%q: want a duration such as 2m (0 fails at once when a dependency does not answer)", v)
		}
		c.StartupWait = d
	}
	if v := getenv("DECIDE_REFRESH_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("DECIDE_REFRESH_INTERVAL=%q: want a positive duration such as 5s", v)
		}
		c.DecideRefresh = d
	}
	var err error
	if c.CORS, err = edge.ParseCORSOrigins(getenv("CORS_ORIGINS")); err != nil {
		return c, fmt.Errorf("CORS_ORIGINS: %w", err)
	}
	if c.TrustedProxies, err = edge.ParseProxies(getenv("TRUSTED_PROXIES")); err != nil {
		return c, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	return c, c.validate()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// validate names the first missing setting and the variable that sets it.
func (c Config) validate() error {
	need := func(ok bool, what, env string) error {
		if ok {
			return nil
		}
		return fmt.Errorf("%s needs %s: set %s", c.Component, what, env)
	}
	switch c.Component {
	case Capture:
		return errors.Join(need(len(c.KafkaBrokers) > 0, "Kafka brokers", "KAFKA_BROKERS"),
			need(c.PostgresDSN != "", "PostgreSQL", "POSTGRES_DSN"))
	case Worker:
		return errors.Join(need(len(c.KafkaBrokers) > 0, "Kafka brokers", "KAFKA_BROKERS"),
			need(c.ClickHouseAddr != "", "ClickHouse", "CLICKHOUSE_ADDR"),
			need(c.PostgresDSN != "", "PostgreSQL", "POSTGRES_DSN"))
	case Decide:
		return need(c.PostgresDSN != "", "PostgreSQL", "POSTGRES_DSN")
	case Kafka:
		return nil
	case "":
		return errors.New("no component: pass capture, worker, decide or kafka (or set COMPONENT)")
	default:
		return fmt.Errorf("unknown component %q: want capture, worker, decide or kafka", c.Component)
	}
}

// Run runs the configured component until ctx ends, then shuts it down gracefully.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("component", cfg.Component)
	if cfg.Component == Kafka {
		return runKafka(ctx, cfg, log)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	pool, err := pgxpool.New(ctx, cfg.PostgresDSN)
	if err != nil {
		return fmt.Errorf("postgres: %w (check POSTGRES_DSN)", err)
	}
	defer pool.Close()
	var ch driver.Conn // the worker's
	if cfg.Component == Worker {
		if ch, err = openClickHouse(cfg); err != nil {
			return err
		}
		defer ch.Close()
	}
	if err := awaitDependencies(ctx, cfg, log, func(ctx context.Context) error { return prepare(ctx, cfg, pool, ch) }); err != nil {
		return err
	}

	switch cfg.Component {
	case Capture:
		return runCapture(ctx, cfg, log, reg, pool)
	case Worker:
		return runWorker(ctx, cfg, log, reg, pool, ch)
	default:
		return runDecide(ctx, cfg, log, reg, pool)
	}
}

func runCapture(ctx context.Context, cfg Config, log *slog.Logger, reg *prometheus.Registry, pool *pgxpool.Pool) error {
	producer, err := kgo.NewClient(capture.ProducerOptions(cfg.KafkaBrokers...)...)
	if err != nil {
		return fmt.Errorf("kafka producer for %v: %w", cfg.KafkaBrokers, err)
	}
	defer producer.Close()
	decider, err := decide.New(ctx, decide.Config{Postgres: pool, Logger: log, Registerer: reg, CORS: cfg.CORS, RefreshInterval: cfg.DecideRefresh})
	if err != nil {
		return err
	}
	go func() { _ = decider.Run(ctx) }()
	tokens := teams.NewStore(pool)
	h, err := capture.New(producer, capture.Config{
		Tokens: tokens, Decide: decider, Registerer: reg, Logger: log,
		RatePerToken: rate.Limit(cfg.RatePerToken), CORS: cfg.CORS, TrustedProxies: cfg.TrustedProxies,
		// Readiness also answers for the token store: without it no unknown token
		// can be checked (known ones keep working from the cache).
		Dependencies: []capture.Dependency{{Name: "postgres (token store)", Check: tokens.Ping}},
	})
	if err != nil {
		return err
	}
	return serveHTTP(ctx, cfg.Listen, h, cfg.HTTP, log)
}

func runDecide(ctx context.Context, cfg Config, log *slog.Logger, reg *prometheus.Registry, pool *pgxpool.Pool) error {
	decider, err := decide.New(ctx, decide.Config{Postgres: pool, Logger: log, Registerer: reg, CORS: cfg.CORS, RefreshInterval: cfg.DecideRefresh})
	if err != nil {
		return err
	}
	go func() { _ = decider.Run(ctx) }()
	mux := http.NewServeMux()
	mux.Handle("/decide", decider)
	mux.Handle("/decide/", decider)
	mux.Handle("/flags", decider)
	mux.Handle("/flags/", decider)
	addHealth(mux, reg, func(ctx context.Context) error { return pool.Ping(ctx) })
	return serveHTTP(ctx, cfg.Listen, mux, cfg.HTTP, log)
}

func runWorker(ctx context.Context, cfg Config, log *slog.Logger, reg *prometheus.Registry, pool *pgxpool.Pool, ch driver.Conn) error {
	w, err := worker.New(worker.Config{
		Brokers: cfg.KafkaBrokers, ClickHouse: ch, Database: cfg.ClickHouseDatabase,
		Postgres: pool, Logger: log, Registerer: reg,
	})
	if err != nil {
		return err
	}
	var running atomic.Bool
	running.Store(true)
	mux := http.NewServeMux()
	addHealth(mux, reg, func(ctx context.Context) error {
		if !running.Load() {
			return errors.New("worker stopped")
		}
		return errors.Join(pool.Ping(ctx), pingClickHouse(ctx, ch))
	})
	// The health listener and the worker live and die together: a worker without
	// probes or metrics (say, its port was taken) must not run unseen.
	workerCtx, stopWorker := context.WithCancelCause(ctx)
	defer stopWorker(nil)
	httpErr := make(chan error, 1)
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHTTP()
	go func() {
		err := serveHTTP(httpCtx, cfg.Listen, mux, cfg.HTTP, log)
		if err != nil {
			stopWorker(err)
		}
		httpErr <- err
	}()
	err = w.Run(workerCtx)
	running.Store(false)
	stopHTTP()
	herr := <-httpErr
	if herr != nil {
		return herr // the listener failed first; the worker stopped because of it
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func pingClickHouse(ctx context.Context, ch driver.Conn) error { return ch.Ping(ctx) }

// addHealth mounts /_liveness, /_readiness (ready runs the checks) and /metrics.
func addHealth(mux *http.ServeMux, reg *prometheus.Registry, ready func(context.Context) error) {
	mux.HandleFunc("/_liveness", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/_readiness", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"not ready","detail":%q}`, err.Error())
			return
		}
		fmt.Fprint(w, `{"status":"ready"}`)
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}

// serveHTTP serves h on addr, with timeouts (see edge.NewServer), until ctx ends,
// then shuts down within 10 s.
func serveHTTP(ctx context.Context, addr string, h http.Handler, timeouts edge.Timeouts, log *slog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set LISTEN_ADDR to a free address)", addr, err)
	}
	srv := edge.NewServer(h, timeouts)
	errCh := make(chan error, 1)
	go func() { errCh <- srv.Serve(l) }()
	log.Info("listening", "addr", l.Addr().String())
	select {
	case err := <-errCh:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down %s: %w", addr, err)
	}
	return nil
}

// DefaultStartupWait is ConfigFromEnv's StartupWait: long enough for a fresh
// PostgreSQL (initdb) and Kafka of the same release to start.
const DefaultStartupWait = 3 * time.Minute

// prepare does what a component needs of its dependencies before it serves: the
// PostgreSQL migrations (or a ping), the Kafka topics, and for the worker (ch) the
// ClickHouse migrations (or a ping). Each step is idempotent, so it can be retried.
func prepare(ctx context.Context, cfg Config, pool *pgxpool.Pool, ch driver.Conn) error {
	if cfg.Migrate {
		if err := schema.ApplyPostgres(ctx, pool); err != nil {
			return err
		}
	} else if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w (check POSTGRES_DSN)", err)
	}
	if cfg.Component != Decide {
		if err := ensureTopics(ctx, cfg); err != nil {
			return err
		}
	}
	if ch == nil {
		return nil
	}
	if cfg.Migrate {
		return schema.ApplyClickHouse(ctx, ch, cfg.ClickHouseDatabase)
	}
	if err := pingClickHouse(ctx, ch); err != nil {
		return fmt.Errorf("clickhouse %s: %w", cfg.ClickHouseAddr, err)
	}
	return nil
}

// openClickHouse opens the worker's ClickHouse connection (it connects lazily).
func openClickHouse(cfg Config) (driver.Conn, error) {
	ch, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.ClickHouseAddr},
		Auth: clickhouse.Auth{Username: cfg.ClickHouseUser, Password: cfg.ClickHousePassword},
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w (check CLICKHOUSE_ADDR)", cfg.ClickHouseAddr, err)
	}
	return ch, nil
}

// awaitDependencies runs try until it succeeds, retrying for cfg.StartupWait with a
// growing pause, and answers on cfg.Listen meanwhile: /_liveness 200 (the process is
// alive and working on it), anything else 503 with the reason. A listen address that
// cannot be had is an error at once.
func awaitDependencies(ctx context.Context, cfg Config, log *slog.Logger, try func(context.Context) error) error {
	if cfg.StartupWait <= 0 {
		return try(ctx)
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set LISTEN_ADDR to a free address)", cfg.Listen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_liveness", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok","detail":"starting: waiting for dependencies"}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		// What is awaited goes to the log: capture is public, the error names hosts and users.
		fmt.Fprint(w, `{"status":"starting","detail":"waiting for dependencies (see the component's log)"}`)
	})
	srv := edge.NewServer(mux, cfg.HTTP)
	go func() { _ = srv.Serve(l) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	deadline := time.Now().Add(cfg.StartupWait)
	// Each try is bounded, so a dependency that hangs cannot outlast StartupWait.
	bounded := func() error {
		tctx, cancel := context.WithTimeout(ctx, max(min(30*time.Second, time.Until(deadline)), time.Second))
		defer cancel()
		return try(tctx)
	}
	pause := 500 * time.Millisecond
	if err = bounded(); err == nil {
		return nil
	}
	for {
		if permanent(err) {
			return err
		}
		log.Warn("waiting for dependencies", "err", err, "gives_up_in", time.Until(deadline).Round(time.Second).String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting for dependencies (last error: %v): %w", err, ctx.Err())
		case <-time.After(pause):
		}
		if err = bounded(); err == nil {
			log.Info("dependencies answer")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dependencies still failing after STARTUP_WAIT=%s: %w", cfg.StartupWait, err)
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// permanent tells errors that waiting does not cure: a refused password or a missing
// database means the configuration is wrong, and the sooner it is said the better.
func permanent(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000" // authorization; no such database
	}
	var chErr *clickhouse.Exception
	if errors.As(err, &chErr) {
		switch chErr.Code {
		case 192, 193, 194, 516: // unknown user, wrong password, password required, authentication failed
			return true
		}
	}
	return false
}

// ensureTopics creates the ingestion and dead-letter topics when missing, so a fresh
// Kafka with topic auto-creation off works too.
func ensureTopics(ctx context.Context, cfg Config) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.KafkaBrokers...))
	if err != nil {
		return fmt.Errorf("kafka admin client for %v: %w", cfg.KafkaBrokers, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, topic := range []string{event.IngestionTopic, event.DeadLetterTopic} {
		// Kafka's default max.message.bytes (1 MB) is below capture's 2 MB events.
		maxBytes := strconv.Itoa(event.MaxMessageBytes)
		resp, err := adm.CreateTopic(ctx, cfg.TopicPartitions, -1, map[string]*string{"max.message.bytes": &maxBytes}, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create kafka topic %s on %v: %w", topic, cfg.KafkaBrokers, err)
		}
	}
	return nil
}
