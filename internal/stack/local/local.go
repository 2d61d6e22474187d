// Package local runs the whole reference stack on this machine with no cluster and no
// Docker: kfake (an in-process Kafka wire-protocol broker), clickhouse-server and
// PostgreSQL as child processes on free loopback ports in a temporary directory, and
// capture, worker and decide in-process.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/reference/capture"
	"github.com/shakedown-dev/shakedown/reference/decide"
	"github.com/shakedown-dev/shakedown/reference/event"
	"github.com/shakedown-dev/shakedown/reference/schema"
	"github.com/shakedown-dev/shakedown/reference/teams"
	"github.com/shakedown-dev/shakedown/reference/worker"
)

// DefaultListen is where capture listens unless Options.Listen says otherwise.
const DefaultListen = "127.0.0.1:8010"

// Options configures Up. The zero value is a working default.
type Options struct {
	// Listen is capture's address (default DefaultListen; "127.0.0.1:0" picks a free port).
	Listen string
	// Token is the project token to create (default: a fresh random one).
	Token string
	// Partitions of the ingestion topic (default 4).
	Partitions int32
	// Database is the ClickHouse database (default "default").
	Database string
	// WorkerBatchSize and WorkerFlushInterval bound the worker's ClickHouse batches
	// (defaults 5,000 events and 200 ms).
	WorkerBatchSize     int
	WorkerFlushInterval time.Duration
	// Capture adjusts capture's configuration (rate limits, sizes) before it starts.
	Capture func(*capture.Config)
	// Logger receives the components' logs (default: discard).
	Logger *slog.Logger
	// Progress is told each start-up step as it begins (may be nil).
	Progress func(step string)
}

// Stack is a running local reference stack.
type Stack struct {
	// Endpoints are the stack's addresses and its project token.
	Endpoints stack.Endpoints
	// ClickHouse is a native connection to the stack's ClickHouse.
	ClickHouse driver.Conn
	// Postgres is a pool on the stack's PostgreSQL database.
	Postgres *pgxpool.Pool
	// Registry holds every component's Prometheus metrics.
	Registry *prometheus.Registry
	// Database is the ClickHouse database holding the events table.
	Database string

	dir        string
	opts       Options
	logger     *slog.Logger
	kafka      *kfake.Cluster
	producer   *kgo.Client
	ch         *procs.ClickHouse
	pg         *procs.Postgres
	httpServer *http.Server
	httpDone   chan error

	runCancel context.CancelFunc
	bg        sync.WaitGroup

	workerMu     sync.Mutex
	workerCancel context.CancelFunc
	workerDone   chan error
}

// PortInUseError says capture's listen address is taken.
type PortInUseError struct{ Addr string }

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("capture address %s is already in use: stop whatever listens there, or pass --listen 127.0.0.1:0 for any free port", e.Addr)
}

// Up starts the stack and returns once capture answers, the worker consumes and the
// schema is migrated. On error everything already started is stopped again.
func Up(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.Partitions == 0 {
		opts.Partitions = 4
	}
	if opts.Database == "" {
		opts.Database = "default"
	}
	if opts.WorkerBatchSize == 0 {
		opts.WorkerBatchSize = 5000
	}
	if opts.WorkerFlushInterval == 0 {
		opts.WorkerFlushInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	s := &Stack{opts: opts, logger: opts.Logger, Registry: prometheus.NewRegistry(), Database: opts.Database}
	defer func() {
		if err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
		}
	}()

	// Claim capture's port first: a clash is the likeliest failure and the cheapest to report.
	listener, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, &PortInUseError{Addr: opts.Listen}
		}
		return nil, fmt.Errorf("listen on %s for capture: %w", opts.Listen, err)
	}
	defer func() {
		if err != nil {
			listener.Close()
		}
	}()

	if s.dir, err = os.MkdirTemp("", "shakedown-stack-"); err != nil {
		return nil, fmt.Errorf("make the stack's temp dir: %w", err)
	}

	opts.Progress("starting kafka (kfake), clickhouse-server and postgres")
	s.kafka, err = kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(opts.Partitions, event.IngestionTopic),
		kfake.SeedTopics(1, event.DeadLetterTopic))
	if err != nil {
		return nil, fmt.Errorf("start in-process kafka (kfake): %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		s.ch, err = procs.StartClickHouse(gctx, procs.ClickHouseOptions{Dir: s.dir})
		return err
	})
	g.Go(func() (err error) {
		s.pg, err = procs.StartPostgres(gctx, procs.PostgresOptions{Database: "shakedown"})
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	opts.Progress("migrating clickhouse and postgres schemas")
	if s.ClickHouse, err = clickhouse.Open(&clickhouse.Options{Addr: []string{s.ch.NativeAddr}}); err != nil {
		return nil, fmt.Errorf("connect to clickhouse %s: %w", s.ch.NativeAddr, err)
	}
	if err := schema.ApplyClickHouse(ctx, s.ClickHouse, opts.Database); err != nil {
		return nil, err
	}
	if s.Postgres, err = pgxpool.New(ctx, s.pg.DSN); err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := schema.ApplyPostgres(ctx, s.Postgres); err != nil {
		return nil, err
	}
	teamStore := teams.NewStore(s.Postgres)
	team, err := teamStore.Create(ctx, "shakedown", opts.Token)
	if err != nil {
		return nil, err
	}

	opts.Progress("starting capture, decide and worker")
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.runCancel = cancel
	brokers := s.kafka.ListenAddrs()
	if s.producer, err = kgo.NewClient(capture.ProducerOptions(brokers...)...); err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	decider, err := decide.New(ctx, decide.Config{Postgres: s.Postgres, RefreshInterval: 5 * time.Second,
		Logger: s.logger.With("component", "decide"), Registerer: s.Registry})
	if err != nil {
		return nil, err
	}
	s.goRun(func() { _ = decider.Run(runCtx) })
	cfg := capture.Config{
		Tokens:     teamStore,
		Decide:     decider,
		Registerer: s.Registry,
		Logger:     s.logger.With("component", "capture"),
	}
	if opts.Capture != nil {
		opts.Capture(&cfg)
	}
	handler, err := capture.New(s.producer, cfg)
	if err != nil {
		return nil, err
	}
	s.httpServer = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	s.httpDone = make(chan error, 1)
	go func() { s.httpDone <- s.httpServer.Serve(listener) }()

	if err := s.StartWorker(); err != nil {
		return nil, err
	}

	s.Endpoints = stack.Endpoints{
		CaptureURL:       "http://" + listener.Addr().String(),
		ClickHouseNative: s.ch.NativeAddr,
		ClickHouseHTTP:   "http://" + s.ch.HTTPAddr,
		PostgresDSN:      s.pg.DSN,
		KafkaBrokers:     brokers,
		Token:            team.Token,
	}
	return s, nil
}

func (s *Stack) goRun(fn func()) {
	s.bg.Add(1)
	go func() { defer s.bg.Done(); fn() }()
}

// StartWorker starts the in-process worker if it is not running.
func (s *Stack) StartWorker() error {
	s.workerMu.Lock()
	defer s.workerMu.Unlock()
	if s.workerCancel != nil {
		return nil
	}
	w, err := worker.New(worker.Config{
		Brokers:         s.kafka.ListenAddrs(),
		Topic:           event.IngestionTopic,
		DeadLetterTopic: event.DeadLetterTopic,
		Group:           "shakedown-worker",
		BatchSize:       s.opts.WorkerBatchSize,
		FlushInterval:   s.opts.WorkerFlushInterval,
		ClickHouse:      s.ClickHouse,
		Database:        s.opts.Database,
		Postgres:        s.Postgres,
		Logger:          s.logger.With("component", "worker"),
		Registerer:      s.Registry, // a restarted worker adds to the same series
	})
	if err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	s.workerCancel, s.workerDone = cancel, done
	return nil
}

// StopWorker stops the in-process worker gracefully (it flushes and commits) and
// returns its error, if any.
func (s *Stack) StopWorker() error {
	s.workerMu.Lock()
	defer s.workerMu.Unlock()
	if s.workerCancel == nil {
		return nil
	}
	s.workerCancel()
	err := <-s.workerDone
	s.workerCancel, s.workerDone = nil, nil
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Close stops everything in reverse order and removes the temporary directory.
func (s *Stack) Close(ctx context.Context) error {
	var errs []error
	if s.httpServer != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.httpServer.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("stop capture: %w", err))
		}
		cancel()
	}
	if err := s.StopWorker(); err != nil {
		errs = append(errs, err)
	}
	if s.runCancel != nil {
		s.runCancel()
	}
	s.bg.Wait()
	if s.producer != nil {
		s.producer.Close()
	}
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.ClickHouse != nil {
		_ = s.ClickHouse.Close()
	}
	if s.Postgres != nil {
		s.Postgres.Close()
	}
	if s.ch != nil {
		if err := s.ch.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.pg != nil {
		if err := s.pg.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}
