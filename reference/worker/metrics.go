package worker

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the worker's Prometheus collectors.
type metrics struct {
	consumed     prometheus.Counter
	inserted     prometheus.Counter
	deadLettered *prometheus.CounterVec
	// deadLetterDropped counts dead letters Kafka refused for good (e.g. too large).
	deadLetterDropped prometheus.Counter
	batchSize         prometheus.Histogram
	insertTime        prometheus.Histogram
	insertErrors      prometheus.Counter
	commitErrors      prometheus.Counter
	lag               *prometheus.GaugeVec
	// groupTypesUnmapped counts group types of events left out because their team
	// had five group types already.
	groupTypesUnmapped prometheus.Counter
	// updatesDropped counts person and group updates left out of stored events, by reason.
	updatesDropped *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shakedown_worker_messages_consumed_total", Help: "Kafka messages the worker consumed."}),
		inserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shakedown_worker_events_inserted_total", Help: "Event rows inserted into ClickHouse (after in-batch deduplication)."}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shakedown_worker_dead_lettered_total", Help: "Messages sent to the dead-letter topic, by reason."}, []string{"reason"}),
		deadLetterDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shakedown_worker_dead_letters_dropped_total", Help: "Dead letters Kafka refused permanently (logged at error level, then dropped)."}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shakedown_worker_batch_rows", Help: "Rows per ClickHouse insert.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		insertTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shakedown_worker_insert_duration_seconds", Help: "Time of one successful ClickHouse batch insert.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shakedown_worker_insert_errors_total", Help: "Failed ClickHouse insert attempts (each is retried)."}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shakedown_worker_commit_errors_total", Help: "Failed Kafka offset commits."}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shakedown_worker_consumer_lag", Help: "Messages not yet committed by the worker's group, per partition: the broker's high watermark minus the group's committed offset (or the log start when nothing is committed), read from the broker every LagInterval, so it grows while inserts fail."},
			[]string{"topic", "partition"}),
		groupTypesUnmapped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shakedown_worker_group_types_unmapped_total", Help: "Groups of events left out because their team had 5 group types already (PostHog's limit); the events are stored."}),
		updatesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shakedown_worker_person_updates_dropped_total", Help: "Person and group updates ($set, $set_once, $group_set, merges) left out of stored events, by reason; each is also dead-lettered."},
			[]string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	reg1 := func(c prometheus.Collector) prometheus.Collector {
		if err != nil {
			return c
		}
		var got prometheus.Collector
		got, err = register(reg, c)
		return got
	}
	m.consumed = reg1(m.consumed).(prometheus.Counter)
	m.inserted = reg1(m.inserted).(prometheus.Counter)
	m.deadLettered = reg1(m.deadLettered).(*prometheus.CounterVec)
	m.deadLetterDropped = reg1(m.deadLetterDropped).(prometheus.Counter)
	m.batchSize = reg1(m.batchSize).(prometheus.Histogram)
	m.insertTime = reg1(m.insertTime).(prometheus.Histogram)
	m.insertErrors = reg1(m.insertErrors).(prometheus.Counter)
	m.commitErrors = reg1(m.commitErrors).(prometheus.Counter)
	m.lag = reg1(m.lag).(*prometheus.GaugeVec)
	m.groupTypesUnmapped = reg1(m.groupTypesUnmapped).(prometheus.Counter)
	m.updatesDropped = reg1(m.updatesDropped).(*prometheus.CounterVec)
	if err != nil {
		return nil, fmt.Errorf("register worker metrics: %w", err)
	}
	return m, nil
}

// register registers c, or returns the collector already registered under its name so
// that several workers sharing a registry add to the same series.
func register(reg prometheus.Registerer, c prometheus.Collector) (prometheus.Collector, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return are.ExistingCollector, nil
	}
	return c, err
}
