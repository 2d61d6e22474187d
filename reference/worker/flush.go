package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deadLetter produces rec to the dead-letter topic without waiting; flushLocked waits for
// the acknowledgement (and re-sends failures) before committing rec's offset.
func (w *Worker) deadLetter(cl *kgo.Client, rec *kgo.Record, pe *poisonError) {
	w.metrics.deadLettered.WithLabelValues(pe.reason).Inc()
	w.log.Warn("message dead-lettered", "reason", pe.reason, "err", pe.detail,
		"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
	dl := deadLetterRecord(w.cfg.DeadLetterTopic, rec, pe.reason, pe.detail, time.Now())
	cl.Produce(context.Background(), dl, func(r *kgo.Record, err error) {
		if err != nil { // keep a fresh copy: the failed record carries the attempt's producer state
			w.dlqMu.Lock()
			w.dlqFailed = append(w.dlqFailed, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers})
			w.dlqMu.Unlock()
		}
	})
}

// flushLocked makes the batch durable and commits its offsets: dead letters acknowledged,
// event rows then person override rows inserted (each retried with backoff until ctx is
// done), then the commit. w.mu is held. On an insert failure the batch is kept and
// nothing is committed, so a merge whose overrides are not in ClickHouse is replayed.
func (w *Worker) flushLocked(ctx context.Context, cl *kgo.Client) error {
	b := w.batch
	if b.empty() {
		return nil
	}
	if err := w.flushDeadLetters(ctx, cl); err != nil {
		return err
	}
	err := w.retry(ctx, "clickhouse insert", func(ctx context.Context) error {
		start := time.Now()
		err := insertEvents(ctx, w.cfg.ClickHouse, w.cfg.Database, b.rows)
		w.health.note(err)
		if err != nil {
			w.metrics.insertErrors.Inc()
			return err
		}
		w.metrics.insertTime.Observe(time.Since(start).Seconds())
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert %d events: %w", len(b.rows), err)
	}
	w.metrics.inserted.Add(float64(len(b.rows)))
	w.metrics.batchSize.Observe(float64(len(b.rows)))
	overrides := b.overrideRows()
	err = w.retry(ctx, "clickhouse insert person overrides", func(ctx context.Context) error {
		if err := insertOverrides(ctx, w.cfg.ClickHouse, w.cfg.Database, overrides); err != nil {
			w.metrics.insertErrors.Inc()
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert %d person overrides: %w", len(overrides), err)
	}
	if w.afterInsert != nil {
		w.afterInsert()
	}
	err = w.commit(ctx, cl, b.offsets)
	w.log.Debug("batch flushed", "rows", len(b.rows), "person_overrides", len(overrides), "messages", b.records, "commit_err", err)
	w.batch.reset() // the rows are in: a failed commit only means a harmless replay
	return err
}

// flushDeadLetters waits for every dead letter produced so far and re-sends failed ones.
func (w *Worker) flushDeadLetters(ctx context.Context, cl *kgo.Client) error {
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("wait for dead letters: %w", err)
	}
	w.dlqMu.Lock()
	failed := w.dlqFailed
	w.dlqFailed = nil
	w.dlqMu.Unlock()
	for i, r := range failed {
		err := w.retry(ctx, "dead-letter produce", func(ctx context.Context) error {
			return cl.ProduceSync(ctx, r).FirstErr()
		})
		if err != nil && isPermanent(err) {
			// Kafka refuses this dead letter whatever we do: retrying would stall the
			// partition for good. Say so loudly and move on.
			w.metrics.deadLetterDropped.Inc()
			w.log.Error("dead letter refused by Kafka; dropped", "topic", r.Topic, "bytes", len(r.Value), "err", err)
			continue
		}
		if err != nil {
			w.dlqMu.Lock()
			w.dlqFailed = append(w.dlqFailed, failed[i:]...)
			w.dlqMu.Unlock()
			return fmt.Errorf("produce dead letter: %w", err)
		}
	}
	return nil
}

// commit synchronously commits offsets and reports any partition the broker refused.
func (w *Worker) commit(ctx context.Context, cl *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) error {
	var err error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, cerr error) {
		if cerr != nil {
			err = cerr
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil {
					err = errors.Join(err, fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, perr))
				}
			}
		}
	})
	if err != nil {
		w.metrics.commitErrors.Inc()
		return fmt.Errorf("commit offsets: %w", err)
	}
	return nil
}
