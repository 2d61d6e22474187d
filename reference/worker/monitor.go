package worker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clickHouseHealth remembers the outcome of the last insert or ping of ClickHouse.
type clickHouseHealth struct {
	mu  sync.Mutex
	err error
	at  time.Time // zero: never tried
}

// note records the outcome of an insert or ping that ended now.
func (h *clickHouseHealth) note(err error) {
	h.mu.Lock()
	h.err, h.at = err, time.Now()
	h.mu.Unlock()
}

func (h *clickHouseHealth) last() (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.at, h.err
}

// ClickHouseErr is nil when the worker's last insert into ClickHouse (or its last ping,
// sent every LagInterval while no insert is tried) succeeded, and otherwise that
// failure with its age. Readiness probes use it to name ClickHouse when it is down.
func (w *Worker) ClickHouseErr() error {
	at, err := w.health.last()
	if err == nil {
		return nil
	}
	return fmt.Errorf("clickhouse failed the worker's last insert or ping %s ago: %w", time.Since(at).Round(time.Millisecond), err)
}

// monitor reads the consumer lag from the broker and pings an idle ClickHouse every
// LagInterval until ctx is done. It works apart from the consume loop, so both stay
// current while that loop is stuck retrying an insert.
func (w *Worker) monitor(ctx context.Context, cl *kgo.Client) {
	adm := kadm.NewClient(cl)
	t := time.NewTicker(w.cfg.LagInterval)
	defer t.Stop()
	for {
		w.updateLag(ctx, adm)
		if at, _ := w.health.last(); time.Since(at) >= w.cfg.LagInterval {
			pctx, cancel := context.WithTimeout(ctx, w.cfg.LagInterval)
			err := w.cfg.ClickHouse.Ping(pctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			w.health.note(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// updateLag sets the lag gauge of every partition of the topic the group has
// committed or been assigned: high watermark minus committed offset.
func (w *Worker) updateLag(ctx context.Context, adm *kadm.Client) {
	lctx, cancel := context.WithTimeout(ctx, w.cfg.LagInterval)
	defer cancel()
	lags, err := adm.Lag(lctx, w.cfg.Group)
	if err == nil {
		err = lags.Error()
	}
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("reading consumer lag from the broker failed; the lag metric keeps its last values", "err", err)
		}
		return
	}
	for _, m := range lags[w.cfg.Group].Lag[w.cfg.Topic] {
		if m.Err == nil && m.Lag >= 0 {
			w.metrics.lag.WithLabelValues(m.Topic, strconv.Itoa(int(m.Partition))).Set(float64(m.Lag))
		}
	}
}
