// Package worker is the reference stack's ingestion worker: it consumes the events capture
// wrote to Kafka, keeps persons in PostgreSQL ($identify, $create_alias, $set, $set_once)
// and inserts events into ClickHouse in size- and time-bounded batches.
//
// Groups work as in PostHog: each group type of an event's $groups gets the lowest free
// index 0..4 of its team (group_type_mapping) and the event's key for it is stored in the
// events column $group_<index>; a team's sixth type is not mapped (the event is stored
// without it, logged once, counted). $groupidentify merges $group_set into the group's
// properties (groups) and, like $process_person_profile false, creates no person.
//
// Delivery is at least once: a partition's offsets are committed only after every message
// up to them was inserted or dead-lettered, so a crash replays what was not committed.
// Replays are harmless: person writes are idempotent and ClickHouse's events table folds
// rows with the same (team_id, uuid); readers use FINAL or uniqExact(uuid).
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// Defaults for the zero values of Config.
const (
	DefaultGroup         = "shakedown-worker"
	DefaultBatchSize     = 1000
	DefaultFlushInterval = time.Second
	DefaultDatabase      = "default"
	// DefaultLagInterval is how often the consumer lag is read from the broker and,
	// when no insert was tried since, ClickHouse is pinged.
	DefaultLagInterval = 5 * time.Second
)

// Internal timings.
const (
	shutdownTimeout = 30 * time.Second // bounds the final flush and commit
	retryMin        = 50 * time.Millisecond
	retryMax        = 5 * time.Second
	teamHitTTL      = 5 * time.Minute
	teamMissTTL     = 10 * time.Second
)

// Config configures a Worker. Brokers, ClickHouse and Postgres are required.
type Config struct {
	// Brokers are the Kafka seed brokers.
	Brokers []string
	// Topic is consumed (default event.IngestionTopic); DeadLetterTopic receives the
	// messages that cannot be processed (default event.DeadLetterTopic).
	Topic, DeadLetterTopic string
	// Group is the consumer group (default DefaultGroup).
	Group string
	// BatchSize bounds the messages per ClickHouse batch (default DefaultBatchSize).
	BatchSize int
	// FlushInterval bounds how long a consumed message waits for its batch to be
	// inserted (default DefaultFlushInterval).
	FlushInterval time.Duration
	// ClickHouse is where events are inserted, into Database.events (default database "default").
	ClickHouse driver.Conn
	Database   string
	// Postgres holds teams, persons and person_distinct_ids.
	Postgres *pgxpool.Pool
	// Logger receives the worker's logs (default: discarded).
	Logger *slog.Logger
	// Registerer receives the worker's metrics (default: none registered).
	Registerer prometheus.Registerer
	// KafkaOptions are added to the worker's own Kafka client options and win over them.
	KafkaOptions []kgo.Opt
	// LagInterval is how often the consumer lag metric is read from the broker
	// (committed offsets against high watermarks) and ClickHouse's health refreshed
	// (default DefaultLagInterval).
	LagInterval time.Duration
}

// Worker consumes events from Kafka into PostgreSQL and ClickHouse. Create it with New;
// call Run once.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	teams   *teamCache
	persons personStore
	// groupTypes maps group type names to indexes per team (group_type_mapping).
	groupTypes *groupTypeCache

	mu    sync.Mutex // guards batch; held while processing and flushing
	batch *pendingBatch

	dlqMu     sync.Mutex // guards dlqFailed, appended to by producer callbacks
	dlqFailed []*kgo.Record

	// health is ClickHouse's state as the last insert or ping saw it.
	health clickHouseHealth

	// afterInsert, when set (only by this package's tests), runs after a batch is in
	// ClickHouse and before its offsets are committed: the window a crash test aims at.
	afterInsert func()
}

// New checks cfg, fills in defaults and registers the metrics.
func New(cfg Config) (*Worker, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("worker: no Kafka brokers")
	case cfg.ClickHouse == nil:
		return nil, errors.New("worker: no ClickHouse connection")
	case cfg.Postgres == nil:
		return nil, errors.New("worker: no PostgreSQL pool")
	}
	if cfg.Topic == "" {
		cfg.Topic = event.IngestionTopic
	}
	if cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = event.DeadLetterTopic
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LagInterval <= 0 {
		cfg.LagInterval = DefaultLagInterval
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return &Worker{
		cfg:        cfg,
		log:        cfg.Logger.With("group", cfg.Group), // the caller names the component
		metrics:    m,
		teams:      newTeamCache(cfg.Postgres, teamHitTTL, teamMissTTL),
		persons:    personStore{pool: cfg.Postgres},
		groupTypes: newGroupTypeCache(cfg.Postgres),
		batch:      newPendingBatch(),
	}, nil
}

// Run joins the consumer group and processes messages until ctx is cancelled; then it
// flushes the last batch, commits its offsets, leaves the group and returns. It returns
// an error only when the final flush or commit failed (those messages will be redelivered).
func (w *Worker) Run(ctx context.Context) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.cfg.Brokers...),
		kgo.ConsumerGroup(w.cfg.Group),
		kgo.ConsumeTopics(w.cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// Eager balancing: a rebalance revokes every partition, so a batch is never split
		// between partitions kept and partitions given up.
		kgo.Balancers(kgo.StickyBalancer()),
		kgo.OnPartitionsRevoked(w.onRevoked),
		kgo.OnPartitionsLost(w.onLost),
		// Records reach event.MaxMessageBytes; fetch a whole one per partition at once.
		kgo.FetchMaxPartitionBytes(event.MaxMessageBytes),
		kgo.FetchMaxBytes(4 * event.MaxMessageBytes),
	}
	cl, err := kgo.NewClient(append(opts, w.cfg.KafkaOptions...)...)
	if err != nil {
		return fmt.Errorf("worker: kafka client: %w", err)
	}
	defer cl.CloseAllowingRebalance()
	w.log.Info("worker started", "topic", w.cfg.Topic, "batch_size", w.cfg.BatchSize, "flush_interval", w.cfg.FlushInterval)
	monitorDone := make(chan struct{})
	mctx, stopMonitor := context.WithCancel(ctx)
	go func() { defer close(monitorDone); w.monitor(mctx, cl) }()
	// Stopped and waited for before the client closes, however Run returns.
	defer func() { stopMonitor(); <-monitorDone }()

	loopErr := w.consume(ctx, cl)

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	w.mu.Lock()
	err = w.flushLocked(sctx, cl)
	w.mu.Unlock()
	cl.AllowRebalance()
	if err = errors.Join(loopErr, err); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.log.Info("worker stopped")
	return nil
}

// consume polls and processes until ctx is cancelled.
func (w *Worker) consume(ctx context.Context, cl *kgo.Client) error {
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, w.untilFlush())
		fetches := cl.PollRecords(pctx, w.cfg.BatchSize)
		cancel()
		if fetches.IsClientClosed() {
			return errors.New("kafka client closed")
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				w.log.Warn("fetch error", "topic", topic, "partition", part, "err", err)
			}
		})

		w.mu.Lock()
		err := w.process(ctx, cl, fetches.Records())
		if err == nil && !w.batch.empty() && (w.batch.records >= w.cfg.BatchSize || w.untilFlushLocked() <= 0) {
			err = w.flushLocked(ctx, cl)
		}
		w.mu.Unlock()
		cl.AllowRebalance()
		if err != nil && ctx.Err() == nil {
			w.log.Error("flush failed; its messages stay uncommitted", "err", err)
		}
	}
	return nil
}

// untilFlush is how long the open batch may still wait.
func (w *Worker) untilFlush() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.untilFlushLocked()
}

func (w *Worker) untilFlushLocked() time.Duration {
	if w.batch.empty() {
		return w.cfg.FlushInterval
	}
	return time.Until(w.batch.started.Add(w.cfg.FlushInterval))
}

// onRevoked flushes before the partitions go to another member, so their offsets are
// committed by the member that inserted the rows.
func (w *Worker) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	w.log.Info("partitions revoked", "partitions", revoked)
	w.flushOnRebalance(ctx, cl)
}

// onLost inserts what is pending; the commit fails (the partitions are gone) and the new
// owner replays them, which the events table folds.
func (w *Worker) onLost(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
	w.log.Warn("partitions lost", "partitions", lost)
	w.flushOnRebalance(ctx, cl)
}

func (w *Worker) flushOnRebalance(ctx context.Context, cl *kgo.Client) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(fctx, cl); err != nil {
		// Balancing is eager, so every partition is being given up: drop the batch and
		// let whoever gets the partitions next replay from the last commit.
		w.log.Error("flush on rebalance failed; messages will be redelivered", "err", err)
		w.batch.reset()
		// The replay dead-letters its poison messages again; re-sending the failed ones
		// from here too would only add copies (dead letters are at-least-once anyway).
		w.dlqMu.Lock()
		w.dlqFailed = nil
		w.dlqMu.Unlock()
	}
}
