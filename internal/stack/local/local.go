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
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/reference/capture"
	"github.com/shakedown-dev/shakedown/reference/decide"
	"github.com/shakedown-dev/shakedown/reference/edge"
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
	// HTTP bounds slow and idle clients of capture's server (zero fields: edge's
	// defaults, as `shakedown serve` uses).
	HTTP edge.Timeouts
	// CORS is capture's and decide's cross-origin policy (zero: any origin, no credentials).
	CORS edge.CORS
	// TrustedProxies may set X-Forwarded-For (default nobody).
	TrustedProxies edge.Proxies
	// Capture adjusts capture's configuration (rate limits, sizes) before it starts.
	Capture func(*capture.Config)
	// TokenCacheTTL is how long capture trusts a valid token without asking
	// PostgreSQL (default teams.DefaultPositiveTTL); drills shorten it so that
	// a PostgreSQL outage outlasts the cache.
	TokenCacheTTL time.Duration
	// Logger receives the components' logs (default: discard).
	Logger *slog.Logger
	// Progress is told each start-up step as it begins (may be nil).
	Progress func(step string)
	// KeepDir, when set, holds ClickHouse's and PostgreSQL's data and the project
	// token, and Close keeps it: a later Up with the same KeepDir finds the earlier
	// events and the same token (unless Token names another). Empty means a temporary
	// directory removed by Close. Kafka (kfake) is in memory either way.
	KeepDir string
	// MaxRestarts is how often in a row a dead ClickHouse or PostgreSQL is restarted
	// before the stack gives up and reports failure on Done (default 5).
	MaxRestarts int
	// RestartBackoff is the wait before the first restart, doubled after each failed
	// one up to 10 s (default 500 ms).
	RestartBackoff time.Duration
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
	worker       *worker.Worker
	workerCancel context.CancelFunc
	workerDone   chan error

	// keepLock holds KeepDir's lock file; nil without KeepDir.
	keepLock *os.File
	failure  *failure
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
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = 5
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = 500 * time.Millisecond
	}
	s := &Stack{opts: opts, logger: opts.Logger, Registry: prometheus.NewRegistry(), Database: opts.Database,
		failure: newFailure()}
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

	if opts.KeepDir != "" {
		if opts.Token, err = s.openKeepDir(opts.Token); err != nil {
			return nil, err
		}
	} else if s.dir, err = os.MkdirTemp("", "shakedown-stack-"); err != nil {
		return nil, fmt.Errorf("make the stack's temp dir: %w", err)
	}

	opts.Progress("starting kafka (kfake), clickhouse-server and postgres")
	// kfake's message.max.bytes defaults to about 1 MB, below capture's 2 MB events.
	s.kafka, err = kfake.NewCluster(kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(event.MaxMessageBytes)}),
		kfake.SeedTopics(opts.Partitions, event.IngestionTopic),
		kfake.SeedTopics(1, event.DeadLetterTopic))
	if err != nil {
		return nil, fmt.Errorf("start in-process kafka (kfake): %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		chOpts := procs.ClickHouseOptions{Dir: s.dir, Databases: []string{opts.Database}}
		if opts.KeepDir != "" {
			s.ch, err = procs.StartClickHouseAt(gctx, filepath.Join(opts.KeepDir, keptClickHouse), chOpts)
			return err
		}
		s.ch, err = procs.StartClickHouse(gctx, chOpts)
		return err
	})
	g.Go(func() (err error) {
		pgOpts := procs.PostgresOptions{Database: "shakedown"}
		if opts.KeepDir != "" {
			s.pg, err = procs.StartPostgresAt(gctx, filepath.Join(opts.KeepDir, keptPostgres), pgOpts)
			return err
		}
		s.pg, err = procs.StartPostgres(gctx, pgOpts)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	opts.Progress("migrating clickhouse and postgres schemas")
	if s.ClickHouse, err = clickhouse.Open(&clickhouse.Options{Addr: []string{s.ch.NativeAddr},
		Auth: clickhouse.Auth{Username: s.ch.User, Password: s.ch.Password}}); err != nil {
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
	teamStore := teams.NewStore(s.Postgres, teams.PositiveTTL(opts.TokenCacheTTL))
	team, err := teamStore.Create(ctx, "shakedown", opts.Token)
	if err != nil {
		return nil, err
	}
	if err := s.keepToken(team.Token); err != nil {
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
		Logger: s.logger.With("component", "decide"), Registerer: s.Registry, CORS: opts.CORS})
	if err != nil {
		return nil, err
	}
	s.goRun(func() { _ = decider.Run(runCtx) })
	cfg := capture.Config{
		Tokens:         teamStore,
		Decide:         decider,
		Dependencies:   s.dependencies(teamStore),
		Registerer:     s.Registry,
		Logger:         s.logger.With("component", "capture"),
		CORS:           opts.CORS,
		TrustedProxies: opts.TrustedProxies,
	}
	if opts.Capture != nil {
		opts.Capture(&cfg)
	}
	handler, err := capture.New(s.producer, cfg)
	if err != nil {
		return nil, err
	}
	s.httpServer = edge.NewServer(handler, opts.HTTP)
	s.httpDone = make(chan error, 1)
	go func() { s.httpDone <- s.httpServer.Serve(listener) }()

	if err := s.StartWorker(); err != nil {
		return nil, err
	}
	s.supervise(runCtx)

	s.Endpoints = stack.Endpoints{
		CaptureURL:       "http://" + listener.Addr().String(),
		ClickHouseNative: s.ch.NativeAddr,
		ClickHouseHTTP:   "http://" + s.ch.HTTPAddr,
		// Handed out (stack.json): a read-only user; the worker keeps the writer.
		ClickHouseUser:     s.ch.ReaderUser,
		ClickHousePassword: s.ch.ReaderPassword,
		PostgresDSN:        s.pg.DSN,
		KafkaBrokers:       brokers,
		Token:              team.Token,
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
		Group:           workerGroup,
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
	s.worker, s.workerCancel, s.workerDone = w, cancel, done
	return nil
}

// workerGroup is the consumer group of the in-process worker.
const workerGroup = "shakedown-worker"

// drainTimeout bounds how long Close waits for the worker to catch up.
const drainTimeout = 30 * time.Second

// drainKafka waits until the worker's group has committed every record of the
// ingestion topic (consumer lag 0), at most limit. Capture must be stopped
// first, so that no record arrives after the check. Without a running worker
// there is nothing to wait for.
func (s *Stack) drainKafka(ctx context.Context, limit time.Duration) error {
	s.workerMu.Lock()
	running := s.workerCancel != nil
	s.workerMu.Unlock()
	if !running || s.kafka == nil {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.kafka.ListenAddrs()...))
	if err != nil {
		return fmt.Errorf("drain kafka: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Close may be called with a cancelled context (an interrupt): the drain still runs.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	var left int64 = -1
	for {
		left, err = uncommitted(dctx, adm)
		if err == nil && left == 0 {
			return nil
		}
		select {
		case <-dctx.Done():
			n := "an unknown number of"
			if left >= 0 {
				n = strconv.FormatInt(left, 10)
			}
			why := ""
			if err != nil {
				why = " (last error: " + err.Error() + ")"
			}
			return fmt.Errorf("drain kafka: the worker did not store %s acknowledged records within %s; they are lost with this process%s", n, limit, why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// uncommitted counts the records of the ingestion topic past the worker
// group's committed offsets (from the start where it committed none): end
// offsets and commits are read separately, as a group that has left has no
// members to describe.
func uncommitted(ctx context.Context, adm *kadm.Client) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, event.IngestionTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return -1, fmt.Errorf("end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, event.IngestionTopic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return -1, fmt.Errorf("start offsets: %w", err)
	}
	commits, err := adm.FetchOffsets(ctx, workerGroup)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return -1, fmt.Errorf("committed offsets: %w", err)
	}
	var left int64
	ends.Each(func(end kadm.ListedOffset) {
		from := int64(0)
		if st, ok := starts.Lookup(end.Topic, end.Partition); ok {
			from = st.Offset
		}
		if c, ok := commits.Lookup(end.Topic, end.Partition); ok && c.Err == nil && c.At >= 0 {
			from = c.At
		}
		left += max(0, end.Offset-from)
	})
	return left, nil
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
	s.worker, s.workerCancel, s.workerDone = nil, nil, nil
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Close stops everything in reverse order and removes the temporary directory (not
// Options.KeepDir). Supervision ends before the children are stopped.
func (s *Stack) Close(ctx context.Context) error {
	var errs []error
	if s.httpServer != nil {
		// Longer than the 5 s net/http lets a connection that never sent a
		// request hold Shutdown (a client's spare dial counts as such).
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.httpServer.Shutdown(sctx); err != nil {
			_ = s.httpServer.Close()
			errs = append(errs, fmt.Errorf("stop capture: requests still running after 10s were cut: %w", err))
		}
		cancel()
	}
	// A drill interrupted mid-pause (its process killed) leaves a datastore
	// stopped: resume both, or the drain below would wait on them in vain.
	for _, child := range []string{ClickHouseChild, PostgresChild} {
		_ = s.Signal(child, syscall.SIGCONT)
	}
	// Kafka lives in this process: a graceful stop lets the worker store every
	// record capture acknowledged before it stops, or they would be lost.
	if err := s.drainKafka(ctx, drainTimeout); err != nil {
		errs = append(errs, err)
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
		stop := s.pg.Stop
		if s.opts.KeepDir != "" {
			stop = s.pg.Shutdown // keep the cluster for the next Up
		}
		if err := stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.keepLock != nil {
		s.keepLock.Close() // releases the lock
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}
