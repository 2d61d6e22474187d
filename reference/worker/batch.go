package worker

import (
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// eventRow is one row of ClickHouse events.
type eventRow struct {
	uuid       uuid.UUID
	teamID     int64
	event      string
	distinctID string
	personID   uuid.UUID
	properties string
	timestamp  time.Time
	createdAt  time.Time
	ip         string
	groups     [maxGroupTypes]string // $group_0..$group_4
}

// rowKey identifies a row the way the events table folds duplicates.
type rowKey struct {
	team int64
	uuid uuid.UUID
}

// pendingBatch is what has been consumed since the last flush: the rows to insert
// (deduplicated by team and uuid), the person overrides its merges left (the newest
// version of each) and, per partition, the offset to commit once all of them are in.
type pendingBatch struct {
	rows      []eventRow
	seen      map[rowKey]struct{}
	overrides map[overrideKey]personOverride
	offsets   map[string]map[int32]kgo.EpochOffset
	records   int
	started   time.Time
}

func newPendingBatch() *pendingBatch {
	return &pendingBatch{seen: map[rowKey]struct{}{}, overrides: map[overrideKey]personOverride{},
		offsets: map[string]map[int32]kgo.EpochOffset{}}
}

// addOverrides queues person override rows for ClickHouse, keeping the newest version
// of each (team, old person).
func (b *pendingBatch) addOverrides(rows ...personOverride) {
	for _, r := range rows {
		k := overrideKey{r.team, r.old}
		if cur, ok := b.overrides[k]; !ok || r.version > cur.version {
			b.overrides[k] = r
		}
	}
}

// overrideRows lists the queued person overrides.
func (b *pendingBatch) overrideRows() []personOverride {
	out := make([]personOverride, 0, len(b.overrides))
	for _, r := range b.overrides {
		out = append(out, r)
	}
	return out
}

// add queues row (unless the batch already has its uuid) and marks rec done.
func (b *pendingBatch) add(row eventRow, rec *kgo.Record) {
	k := rowKey{row.teamID, row.uuid}
	if _, dup := b.seen[k]; !dup {
		b.seen[k] = struct{}{}
		b.rows = append(b.rows, row)
	}
	b.done(rec)
}

// done marks rec as handled without a row (dead-lettered or duplicate): its offset is
// committed with the batch.
func (b *pendingBatch) done(rec *kgo.Record) {
	if b.records == 0 {
		b.started = time.Now()
	}
	b.records++
	parts := b.offsets[rec.Topic]
	if parts == nil {
		parts = map[int32]kgo.EpochOffset{}
		b.offsets[rec.Topic] = parts
	}
	parts[rec.Partition] = kgo.EpochOffset{Epoch: rec.LeaderEpoch, Offset: rec.Offset + 1}
}

// empty says nothing has been consumed since the last flush.
func (b *pendingBatch) empty() bool { return b.records == 0 }

// reset empties the batch after a successful flush.
func (b *pendingBatch) reset() { *b = *newPendingBatch() }
