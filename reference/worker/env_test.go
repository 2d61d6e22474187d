package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/reference/event"
	"github.com/shakedown-dev/shakedown/reference/schema"
)

// servers are the clickhouse-server and PostgreSQL shared by this package's tests; each
// test gets its own databases on them and its own kfake cluster.
type servers struct {
	once sync.Once
	err  error
	ch   *procs.ClickHouse
	pg   *procs.Postgres
	dir  string
	seq  atomic.Int64
}

// shared is started by the first test that needs it and stopped by TestMain.
var shared = &servers{}

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "1" { // re-executed as the worker child of a crash test
		os.Exit(runWorkerChild())
	}
	code := m.Run()
	if shared.ch != nil {
		_ = shared.ch.Stop()
	}
	if shared.pg != nil {
		_ = shared.pg.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func (s *servers) start(tb testing.TB) {
	tb.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if s.dir, s.err = os.MkdirTemp("", "worker-test-ch-"); s.err != nil {
			return
		}
		if s.ch, s.err = procs.StartClickHouse(ctx, procs.ClickHouseOptions{Dir: s.dir, AnyDatabase: true}); s.err != nil {
			return
		}
		s.pg, s.err = procs.StartPostgres(ctx, procs.PostgresOptions{Database: "worker"})
	})
	if s.err != nil {
		tb.Fatalf("start test servers: %v", s.err)
	}
}

// env is one test's stack: kfake, a fresh ClickHouse database and PostgreSQL database,
// schema applied, one team.
type env struct {
	kafka   *kfake.Cluster
	brokers []string
	chAddr  string
	chDB    string
	ch      driver.Conn
	pgDSN   string
	pg      *pgxpool.Pool
	token   string
	team    int64
	topic   string
	dlq     string
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

func newEnv(tb testing.TB, partitions int32) *env {
	tb.Helper()
	shared.start(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("w%d_%s", shared.seq.Add(1), nonIdent.ReplaceAllString(strings.ToLower(tb.Name()), "_"))
	if len(name) > 50 {
		name = name[:50]
	}
	e := &env{chAddr: shared.ch.NativeAddr, chDB: name, token: "phc_" + name, topic: event.IngestionTopic, dlq: event.DeadLetterTopic}

	var err error
	e.kafka, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, e.topic), kfake.SeedTopics(1, e.dlq),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.kafka.Close)
	e.brokers = e.kafka.ListenAddrs()

	if e.ch, err = clickhouse.Open(&clickhouse.Options{Addr: []string{e.chAddr},
		Auth: clickhouse.Auth{Username: shared.ch.User, Password: shared.ch.Password}}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.ch.Close() })
	if err := schema.ApplyClickHouse(ctx, e.ch, e.chDB); err != nil {
		tb.Fatal(err)
	}

	adminDSN, err := shared.pg.AdminDSN("postgres")
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" OWNER "+shared.pg.User); err != nil {
		tb.Fatal(err)
	}
	e.pgDSN = shared.pg.DatabaseDSN(name)
	if e.pg, err = pgxpool.New(ctx, e.pgDSN); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.pg.Close)
	if err := schema.ApplyPostgres(ctx, e.pg); err != nil {
		tb.Fatal(err)
	}
	if err := e.pg.QueryRow(ctx, "INSERT INTO teams (name, api_token) VALUES ($1, $2) RETURNING id", name, e.token).Scan(&e.team); err != nil {
		tb.Fatal(err)
	}
	return e
}

// config is a worker configuration for e; tweak it before New.
func (e *env) config() Config {
	return Config{
		Brokers: e.brokers, Topic: e.topic, DeadLetterTopic: e.dlq, Group: "test-worker",
		BatchSize: 1000, FlushInterval: 200 * time.Millisecond,
		ClickHouse: e.ch, Database: e.chDB, Postgres: e.pg,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		KafkaOptions: []kgo.Opt{kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)},
	}
}

// runWorker starts a worker on cfg; stop cancels it and returns Run's error.
func runWorker(tb testing.TB, cfg Config) (stop func() error) {
	tb.Helper()
	w, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	tb.Cleanup(func() { _ = stop() })
	return stop
}

// producer is a plain kgo producer for e's cluster.
func (e *env) producer(tb testing.TB) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

// eventUUID is the deterministic uuid of test event i.
func eventUUID(i int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("event-"+strconv.Itoa(i))).String()
}

// msg builds one event.Message for e's team.
func (e *env) msg(i int, distinctID, data string) event.Message {
	return event.Message{UUID: eventUUID(i), DistinctID: distinctID, IP: "127.0.0.1", Data: data,
		Now: event.FormatNow(time.Now()), Token: e.token}
}

// produce sends messages in order and waits for all acknowledgements.
func (e *env) produce(tb testing.TB, cl *kgo.Client, msgs ...event.Message) {
	tb.Helper()
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		v, err := m.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = &kgo.Record{Topic: e.topic, Key: m.Key(), Value: v}
	}
	e.produceRaw(tb, cl, recs...)
}

func (e *env) produceRaw(tb testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		tb.Fatalf("produce: %v", err)
	}
}

// plainEvents are n pageviews spread over users distinct ids, uuids from first on.
func (e *env) plainEvents(first, n, users int) []event.Message {
	out := make([]event.Message, n)
	for i := range out {
		out[i] = e.msg(first+i, fmt.Sprintf("user-%d", (first+i)%users), `{"event":"$pageview","properties":{"$current_url":"https://example.com/"}}`)
	}
	return out
}

// chCount runs a single-number query against e's database.
func (e *env) chCount(tb testing.TB, query string) uint64 {
	tb.Helper()
	var n uint64
	q := strings.ReplaceAll(query, "{db}", "`"+e.chDB+"`")
	if err := e.ch.QueryRow(context.Background(), q).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRows waits until e's events hold want distinct uuids.
func (e *env) waitRows(tb testing.TB, want uint64, timeout time.Duration) {
	tb.Helper()
	waitFor(tb, timeout, fmt.Sprintf("%d distinct events", want), func() (bool, string) {
		n := e.chCount(tb, "SELECT uniqExact(uuid) FROM {db}.events")
		return n >= want, fmt.Sprintf("%d distinct uuids", n)
	})
}

// committed returns the group's committed offsets summed over e's topic's partitions.
func (e *env) committed(tb testing.TB, group string) int64 {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0
	}
	if err != nil {
		tb.Fatalf("fetch committed offsets: %v", err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == e.topic && o.Err == nil {
			sum += o.At
		}
	})
	return sum
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
