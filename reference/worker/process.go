package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// item is one consumed record on its way into the batch.
type item struct {
	rec      *kgo.Record
	ev       parsedEvent
	team     int64
	personID uuid.UUID
	poison   *poisonError // set: the record goes to the dead-letter topic
	// groupKeys are the event's $group_0..$group_4; groupsDone says they are filled
	// and its $groupidentify applied (see resolveGroups).
	groupKeys  [maxGroupTypes]string
	groupsDone bool
}

// writesPersons says the event changes persons beyond get-or-create, so it is handled
// alone, in order, rather than in a bulk lookup.
func (it *item) writesPersons() bool {
	return it.poison == nil && (it.ev.mergeWith != "" || it.ev.identify || it.ev.set != nil || it.ev.setOnce != nil)
}

// process handles records in order and adds them to the batch. Transient failures
// (PostgreSQL) are retried; it returns an error only when ctx is done, leaving the
// unprocessed records out of the batch and so uncommitted.
func (w *Worker) process(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	now := time.Now()
	items := make([]item, len(recs))
	for i, rec := range recs {
		w.metrics.consumed.Inc()
		items[i].rec = rec
		ev, err := parseMessage(rec.Value, now)
		if err != nil {
			var pe *poisonError
			errors.As(err, &pe)
			items[i].poison = pe
			continue
		}
		items[i].ev = ev
	}
	for i := 0; i < len(items); {
		j := i + 1
		if !items[i].writesPersons() {
			for j < len(items) && !items[j].writesPersons() {
				j++
			}
		}
		seg := items[i:j]
		if err := w.resolveSegment(ctx, seg); err != nil {
			return err
		}
		for k := range seg {
			w.addToBatch(cl, &seg[k], now)
		}
		i = j
	}
	return nil
}

// resolveSegment resolves seg with retries. When PostgreSQL refuses the data itself
// (a permanent error), the items are resolved one by one; an item refused alone is
// tried once more without its person and group updates (the event is stored, the
// updates dead-lettered), and only if that fails too does the event go to the
// dead-letter topic, so the partition moves on.
func (w *Worker) resolveSegment(ctx context.Context, seg []item) error {
	err := w.retry(ctx, "resolve persons and groups", func(ctx context.Context) error { return w.resolveWithGroups(ctx, seg) })
	if err == nil || !isPermanent(err) {
		return err
	}
	for k := range seg {
		it := seg[k : k+1]
		err := w.retry(ctx, "resolve persons and groups", func(ctx context.Context) error { return w.resolveWithGroups(ctx, it) })
		if err != nil && isPermanent(err) && it[0].dropUpdates(err) {
			err = w.retry(ctx, "resolve persons and groups", func(ctx context.Context) error { return w.resolveWithGroups(ctx, it) })
		}
		switch {
		case err == nil:
		case isPermanent(err):
			it[0].poison = &poisonError{reason: reasonInvalidValue, detail: err.Error()}
		default:
			return err
		}
	}
	return nil
}

// dropUpdates strips the item's person and group updates (merge, $set, $set_once,
// groups), recording them as dropped because of err; false when it had none.
func (it *item) dropUpdates(err error) bool {
	ev := &it.ev
	if ev.mergeWith == "" && !ev.identify && ev.set == nil && ev.setOnce == nil && ev.groupIdentify == nil && len(ev.groups) == 0 {
		return false
	}
	ev.dropped = append(ev.dropped, dropUpdate("PostgreSQL refused the person or group update; the event is stored without its merge, $set, $set_once and groups: %v", err))
	ev.mergeWith, ev.identify, ev.set, ev.setOnce, ev.groupIdentify, ev.groups = "", false, nil, nil, nil, nil
	it.groupKeys, it.groupsDone = [maxGroupTypes]string{}, false
	return true
}

// resolveWithGroups is resolve, then resolveGroups.
func (w *Worker) resolveWithGroups(ctx context.Context, seg []item) error {
	if err := w.resolve(ctx, seg); err != nil {
		return err
	}
	return w.resolveGroups(ctx, seg)
}

// resolve finds the team and person of every item in seg: one item that writes persons,
// or a run of items that only need get-or-create, looked up in bulk.
func (w *Worker) resolve(ctx context.Context, seg []item) error {
	for k := range seg {
		it := &seg[k]
		if it.poison != nil || it.team != 0 {
			continue
		}
		team, ok, err := w.teams.lookup(ctx, it.ev.msg.Token)
		if err != nil {
			return err
		}
		if !ok {
			it.poison = &poisonError{reason: reasonUnknownToken, detail: "no team has api_token " + it.ev.msg.Token}
			continue
		}
		it.team = team
	}
	if len(seg) == 1 && seg[0].writesPersons() {
		return w.writePersons(ctx, &seg[0])
	}
	if err := w.resolvePersonless(ctx, seg); err != nil {
		return err
	}
	for team, dids := range distinctIDsByTeam(seg, func(it *item) bool { return true }) {
		found, cleared, err := w.persons.getOrCreateMany(ctx, team, dids)
		if err != nil {
			return err
		}
		w.batch.addOverrides(cleared...) // at once, like writePersons does
		for k := range seg {
			it := &seg[k]
			if it.poison != nil || it.team != team || it.personID != uuid.Nil {
				continue
			}
			id, ok := found[it.ev.msg.DistinctID]
			if !ok {
				return fmt.Errorf("team %d distinct_id %q has no person after get-or-create", team, it.ev.msg.DistinctID)
			}
			it.personID = id
		}
	}
	return nil
}

// distinctIDsByTeam lists, per team, the distinct ids of the items of seg that
// still need a person and that want selects.
func distinctIDsByTeam(seg []item, want func(*item) bool) map[int64][]string {
	byTeam := map[int64][]string{}
	for k := range seg {
		if it := &seg[k]; it.poison == nil && it.personID == uuid.Nil && want(it) {
			byTeam[it.team] = append(byTeam[it.team], it.ev.msg.DistinctID)
		}
	}
	return byTeam
}

// resolvePersonless gives each personless item of seg the person its
// distinct_id already has, or else the uuid a person for it would get
// (personUUID), creating nothing.
func (w *Worker) resolvePersonless(ctx context.Context, seg []item) error {
	for team, dids := range distinctIDsByTeam(seg, func(it *item) bool { return it.ev.personless }) {
		found, err := w.persons.lookupMany(ctx, team, dids)
		if err != nil {
			return err
		}
		for k := range seg {
			it := &seg[k]
			if it.poison != nil || !it.ev.personless || it.team != team || it.personID != uuid.Nil {
				continue
			}
			if id, ok := found[it.ev.msg.DistinctID]; ok {
				it.personID = id
			} else {
				it.personID = personUUID(team, it.ev.msg.DistinctID)
			}
		}
	}
	return nil
}

// writePersons applies an $identify / $create_alias merge and $set / $set_once.
func (w *Worker) writePersons(ctx context.Context, it *item) error {
	if it.poison != nil {
		return nil
	}
	did := it.ev.msg.DistinctID
	var overrides []personOverride
	var err error
	if it.ev.mergeWith != "" || it.ev.identify {
		other := it.ev.mergeWith
		if other == "" {
			other = did // $identify without $anon_distinct_id: only marks the person identified
		}
		it.personID, overrides, err = w.persons.merge(ctx, it.team, did, other, it.ev.identify)
	} else {
		it.personID, overrides, err = w.persons.getOrCreate(ctx, it.team, did)
	}
	if err != nil {
		return err
	}
	// Queued at once, not with the event: when a later step fails and the resolve is
	// retried, an override cleared by this creation is not returned again.
	w.batch.addOverrides(overrides...)
	return w.persons.applySet(ctx, it.team, did, it.ev.set, it.ev.setOnce)
}

// addToBatch queues the item's row, or dead-letters it, and marks its offset done.
func (w *Worker) addToBatch(cl *kgo.Client, it *item, now time.Time) {
	if it.poison != nil {
		w.deadLetter(cl, it.rec, it.poison)
		w.batch.done(it.rec)
		return
	}
	for _, d := range it.ev.dropped {
		w.metrics.updatesDropped.WithLabelValues(d.reason).Inc()
		w.deadLetter(cl, it.rec, d)
	}
	w.batch.add(eventRow{
		uuid:       it.ev.uuid,
		teamID:     it.team,
		event:      it.ev.name,
		distinctID: it.ev.msg.DistinctID,
		personID:   it.personID,
		properties: string(it.ev.properties),
		timestamp:  it.ev.timestamp,
		createdAt:  now,
		ip:         it.ev.msg.IP,
		groups:     it.groupKeys,
	}, it.rec)
}

// retry runs fn with backoff until it succeeds or ctx is done.
func (w *Worker) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	return retry(ctx, retryMin, retryMax, fn, func(err error) {
		w.log.Warn(what+" failed; retrying", "err", err)
	})
}
