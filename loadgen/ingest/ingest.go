// Package ingest measures end-to-end ingestion latency: for a sample of the events a
// load attack sends, the time from send until the event is queryable in ClickHouse,
// found by polling for their uuids over the native protocol.
package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options configure a Tracker.
type Options struct {
	// Database holds the events table (default "default").
	Database string
	// Interval between polls (default 100ms): the resolution of the measurement.
	Interval time.Duration
	// Timeout: a sampled event not queryable this long after its send is lost
	// (default 30s).
	Timeout time.Duration
	// MaxPerQuery bounds the uuids asked for in one query (default 500).
	MaxPerQuery int
	// FoundAt receives each found event's send time and latency; Lost is
	// told of each lost one. Usually record.Recorder.AddE2EAt and AddE2ELost.
	FoundAt func(sent time.Time, d time.Duration)
	Lost    func(n uint64)
}

// Tracker follows sampled events from send to ClickHouse. It is safe for
// concurrent use: vegeta's workers call Sent while Run polls.
type Tracker struct {
	conn driver.Conn
	opts Options

	mu      sync.Mutex
	pending map[string]time.Time // uuid -> send time
	found   uint64
	lost    uint64
	since   time.Time // earliest send, to skip rows of earlier runs
}

// New returns a Tracker polling conn.
func New(conn driver.Conn, opts Options) *Tracker {
	if opts.Database == "" {
		opts.Database = "default"
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxPerQuery <= 0 {
		opts.MaxPerQuery = 500
	}
	return &Tracker{conn: conn, opts: opts, pending: make(map[string]time.Time)}
}

// Sent notes that the events with uuids were sent at.
func (t *Tracker) Sent(at time.Time, uuids ...string) {
	if len(uuids) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.since.IsZero() || at.Before(t.since) {
		t.since = at
	}
	for _, u := range uuids {
		if _, dup := t.pending[u]; !dup {
			t.pending[u] = at
		}
	}
}

// Counts returns how many sampled events were found, lost, and are still pending.
func (t *Tracker) Counts() (found, lost, pending uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.found, t.lost, uint64(len(t.pending))
}

// Run polls until ctx ends, then keeps polling until every pending event is found
// or timed out, or drain ends. Pass the attack's context as ctx and a context
// bounding the wait after it as drain.
func (t *Tracker) Run(ctx, drain context.Context) error {
	tick := time.NewTicker(t.opts.Interval)
	defer tick.Stop()
	attacking := true
	for {
		if attacking {
			select {
			case <-ctx.Done():
				attacking = false
			case <-tick.C:
			}
		} else {
			if _, _, pending := t.Counts(); pending == 0 {
				return nil
			}
			select {
			case <-drain.Done():
				t.expire(time.Time{})
				return nil
			case <-tick.C:
			}
		}
		if err := t.poll(drain); err != nil {
			if drain.Err() != nil {
				t.expire(time.Time{})
				return nil
			}
			return err
		}
	}
}

// expire gives up on events sent before cutoff (all events for a zero cutoff).
func (t *Tracker) expire(cutoff time.Time) {
	t.mu.Lock()
	var n uint64
	for u, at := range t.pending {
		if cutoff.IsZero() || at.Before(cutoff) {
			delete(t.pending, u)
			n++
		}
	}
	t.lost += n
	t.mu.Unlock()
	if n > 0 && t.opts.Lost != nil {
		t.opts.Lost(n)
	}
}

func (t *Tracker) poll(ctx context.Context) error {
	t.mu.Lock()
	batch := make([]string, 0, min(len(t.pending), t.opts.MaxPerQuery))
	for u := range t.pending {
		if len(batch) == t.opts.MaxPerQuery {
			break
		}
		batch = append(batch, u)
	}
	since := t.since
	t.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	asked := time.Now()
	found, err := t.query(ctx, batch, since)
	if err != nil {
		return err
	}
	t.mu.Lock()
	type hit struct {
		sent time.Time
		d    time.Duration
	}
	var hits []hit
	for _, u := range found {
		if at, ok := t.pending[u]; ok {
			delete(t.pending, u)
			t.found++
			// The row became visible between the previous poll and this one; the
			// poll's start is an upper bound within one Interval.
			hits = append(hits, hit{at, asked.Sub(at)})
		}
	}
	t.mu.Unlock()
	if t.opts.FoundAt != nil {
		for _, h := range hits {
			t.opts.FoundAt(h.sent, h.d)
		}
	}
	t.expire(asked.Add(-t.opts.Timeout))
	return nil
}

func (t *Tracker) query(ctx context.Context, uuids []string, since time.Time) ([]string, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "SELECT DISTINCT toString(uuid) FROM `%s`.events WHERE uuid IN (", t.opts.Database)
	for i, u := range uuids {
		if i > 0 {
			sb.WriteByte(',')
		}
		// uuids come from our own generator (hex and dashes), never from a reply.
		fmt.Fprintf(&sb, "toUUID('%s')", strings.ReplaceAll(u, "'", ""))
	}
	sb.WriteString(")")
	if !since.IsZero() {
		// Skip rows an earlier run with the same seed stored (inserted_at has
		// second precision; 5 s of slack for rounding and clock skew).
		fmt.Fprintf(&sb, " AND inserted_at >= toDateTime(%d)", since.Unix()-5)
	}
	rows, err := t.conn.Query(ctx, sb.String())
	if err != nil {
		return nil, fmt.Errorf("poll ClickHouse for %d sampled uuids in %s.events: %w (is --clickhouse the native port, e.g. 127.0.0.1:9000?)", len(uuids), t.opts.Database, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("read uuid: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
