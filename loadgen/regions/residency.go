package regions

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/shakedown-dev/shakedown/internal/chconn"

	"github.com/shakedown-dev/shakedown/internal/stack"
)

// EventStore is where a region stores its events.
type EventStore interface {
	// Stored returns which of uuids the store holds.
	Stored(ctx context.Context, uuids []string) ([]string, error)
}

// ClickHouseStore is the EventStore of a ClickHouse database's events table.
func ClickHouseStore(conn driver.Conn, database string) EventStore {
	if database == "" {
		database = "default"
	}
	return clickHouseStore{conn: conn, database: database}
}

type clickHouseStore struct {
	conn     driver.Conn
	database string
}

// storeChunk bounds the uuids of one query.
const storeChunk = 1000

func (s clickHouseStore) Stored(ctx context.Context, uuids []string) ([]string, error) {
	var out []string
	for start := 0; start < len(uuids); start += storeChunk {
		var list strings.Builder
		for i, raw := range uuids[start:min(start+storeChunk, len(uuids))] {
			u, err := uuid.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("event uuid %q: %w", raw, err)
			}
			if i > 0 {
				list.WriteByte(',')
			}
			// Quoted literals, not a bound slice: ClickHouse 18.16 refuses an Array in IN.
			list.WriteString("'" + u.String() + "'")
		}
		rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT toString(uuid) FROM `%s`.events WHERE uuid IN (%s)", s.database, list.String()))
		if err != nil {
			return nil, fmt.Errorf("look up %d event uuids in %s.events: %w", min(storeChunk, len(uuids)-start), s.database, err)
		}
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read uuid: %w", err)
			}
			out = append(out, u)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("look up event uuids in %s.events: %w", s.database, err)
		}
	}
	return out, nil
}

// StoreSpec says where a region keeps its events: a ClickHouse server's native
// address and the database holding the events table.
type StoreSpec struct {
	// Name is the target (region) the store belongs to.
	Name string
	// Addr is ClickHouse's native host:port.
	Addr string
	// User and Password authenticate; an empty User is ClickHouse's "default".
	User, Password string
	// Database holds the events table (empty means "default").
	Database string
}

// ParseStoreSpecs parses stores written NAME=[USER@]HOST:PORT (ClickHouse's native
// port), or NAME=STATE, a stack.json written by `shakedown stack up --state DIR` (or
// its DIR), which also carries the user and password. Errors wrap ErrInvalidOptions.
// A spec without a password gets none: the caller fills the default (e.g. a flag or
// $CLICKHOUSE_PASSWORD).
func ParseStoreSpecs(specs []string) ([]StoreSpec, error) {
	var out []StoreSpec
	seen := map[string]bool{}
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		name, where, ok := strings.Cut(spec, "=")
		name, where = strings.TrimSpace(name), strings.TrimSpace(where)
		if !ok || name == "" || where == "" {
			return nil, invalid("residency store %q: want NAME=HOST:PORT (ClickHouse's native port), NAME=USER@HOST:PORT or NAME=STATE_DIR", spec)
		}
		if seen[name] {
			return nil, invalid("residency store for %q given twice: give each region one store", name)
		}
		seen[name] = true
		s := StoreSpec{Name: name}
		if st, err := os.Stat(where); err == nil {
			e, err := stack.ReadState(where)
			if err != nil {
				return nil, invalid("residency store %s: %v", name, err)
			}
			if e.ClickHouseNative == "" {
				return nil, invalid("residency store %s: %s has no ClickHouse native address", name, map[bool]string{true: "the state in " + where, false: where}[st.IsDir()])
			}
			s.Addr, s.User, s.Password = e.ClickHouseNative, e.ClickHouseUser, e.ClickHousePassword
			out = append(out, s)
			continue
		}
		if user, addr, ok := strings.Cut(where, "@"); ok {
			s.User, where = user, addr
		}
		if _, port, err := net.SplitHostPort(where); err != nil || port == "" {
			return nil, invalid("residency store %s %q: want HOST:PORT of ClickHouse's native protocol (e.g. 127.0.0.1:9000), or an existing stack state directory", name, where)
		}
		s.Addr = where
		out = append(out, s)
	}
	return out, nil
}

// OpenStore connects to the store's ClickHouse and checks that it answers; close
// closes the connection.
func OpenStore(ctx context.Context, s StoreSpec) (_ EventStore, close func() error, err error) {
	conn, err := chconn.Open(ctx, s.Addr, s.User, s.Password)
	if err != nil {
		return nil, nil, fmt.Errorf("residency: %s's store: %w (check the native port, user and password)", s.Name, err)
	}
	return ClickHouseStore(conn, s.Database), conn.Close, nil
}

// DefaultResidencyTimeout is how long CheckResidency waits for a region's events
// when ResidencyOptions.Timeout is 0.
const DefaultResidencyTimeout = 30 * time.Second

// ResidencyOptions configures CheckResidency.
type ResidencyOptions struct {
	// Stores maps target names to their region's event store; at least one. A target
	// without a store is not checked for its own events, but its events are looked
	// for in the other stores.
	Stores map[string]EventStore
	// Timeout is how long to wait for every acknowledged event to reach its own
	// region's store (0 means DefaultResidencyTimeout).
	Timeout time.Duration
	// Interval is the wait between looks (0 means 250ms).
	Interval time.Duration
}

// Residency is the outcome of CheckResidency.
type Residency struct {
	Regions []RegionResidency `json:"regions"`
	// Passed is true when no region has a violation.
	Passed bool `json:"passed"`
	// Waited is how long it took the stores to hold what they hold.
	Waited time.Duration `json:"waited"`
}

// RegionResidency is the residency of one target's events.
type RegionResidency struct {
	Name string `json:"name"`
	// Checked is true when the target has a store of its own.
	Checked bool `json:"checked"`
	// Acked counts the events of requests the target acknowledged (2xx), Unacked
	// those of failed requests (which need not be stored, but never elsewhere).
	Acked   int `json:"acked"`
	Unacked int `json:"unacked"`
	// Stored is how many of the acknowledged events the target's own store holds;
	// Missing how many it lacks after the timeout, MissingSample a few of them.
	Stored        int      `json:"stored"`
	Missing       int      `json:"missing"`
	MissingSample []string `json:"missing_sample,omitempty"`
	// Elsewhere lists other regions' stores holding events sent to this target.
	Elsewhere []Misplaced `json:"elsewhere,omitempty"`
}

// Misplaced counts a region's events found in another region's store.
type Misplaced struct {
	Store  string   `json:"store"`
	Count  int      `json:"count"`
	Sample []string `json:"sample"`
}

// Passed is true when every acknowledged event is in the region's own store (when it
// has one) and none of its events is anywhere else.
func (r RegionResidency) Passed() bool { return r.Missing == 0 && len(r.Elsewhere) == 0 }

// sampleSize bounds the uuids quoted as evidence.
const sampleSize = 3

// Violations states each violation with its evidence, one line each.
func (r Residency) Violations() []string {
	var out []string
	for _, g := range r.Regions {
		for _, m := range g.Elsewhere {
			out = append(out, fmt.Sprintf("%d of the %d events sent to %s were found in %s's store (e.g. %s)",
				m.Count, g.Acked+g.Unacked, g.Name, m.Store, strings.Join(m.Sample, ", ")))
		}
		if g.Missing > 0 {
			out = append(out, fmt.Sprintf("%d of the %d events %s acknowledged are missing from %s's store after %s (e.g. %s)",
				g.Missing, g.Acked, g.Name, g.Name, r.Waited.Round(time.Millisecond), strings.Join(g.MissingSample, ", ")))
		}
	}
	return out
}

// CheckResidency checks that the events res sent to each target (Options.TrackEvents)
// are stored in that target's region and in no other: it waits up to opts.Timeout
// for every acknowledged event to reach its own store, then looks for every event
// sent to a target in every other store. Findings go in the Residency; the error
// means the check could not be made (a store did not answer, or res tracked no
// events).
func CheckResidency(ctx context.Context, res Result, opts ResidencyOptions) (Residency, error) {
	if len(opts.Stores) == 0 {
		return Residency{}, invalid("residency: no event stores: give at least one region's store")
	}
	names := make([]string, len(res.Targets))
	tracked := false
	for i, t := range res.Targets {
		names[i] = t.Target.Name
		tracked = tracked || len(t.Events.Acked)+len(t.Events.Unacked) > 0
	}
	for name := range opts.Stores {
		if !slices.Contains(names, name) {
			return Residency{}, invalid("residency: store for %q, which is not a target; the targets are %s", name, strings.Join(names, ", "))
		}
	}
	if !tracked {
		return Residency{}, fmt.Errorf("residency: the run recorded no event uuids: run it with Options.TrackEvents (and a stream that sends events)")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultResidencyTimeout
	}
	if opts.Interval == 0 {
		opts.Interval = 250 * time.Millisecond
	}
	began := time.Now()
	out := Residency{Passed: true}
	missing := make([][]string, len(res.Targets))
	for i, t := range res.Targets {
		out.Regions = append(out.Regions, RegionResidency{Name: t.Target.Name, Acked: len(t.Events.Acked), Unacked: len(t.Events.Unacked)})
		if _, ok := opts.Stores[t.Target.Name]; ok {
			out.Regions[i].Checked = true
			missing[i] = slices.Clone(t.Events.Acked)
		}
	}
	// Wait for each region's acknowledged events in its own store.
	for {
		left := 0
		for i, t := range res.Targets {
			if len(missing[i]) == 0 {
				continue
			}
			found, err := opts.Stores[t.Target.Name].Stored(ctx, missing[i])
			if err != nil {
				return out, fmt.Errorf("residency: %s's store: %w", t.Target.Name, err)
			}
			missing[i] = without(missing[i], found)
			left += len(missing[i])
		}
		if left == 0 || time.Since(began) >= opts.Timeout {
			break
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("residency: %w", ctx.Err())
		case <-time.After(opts.Interval):
		}
	}
	out.Waited = time.Since(began)
	// Then look for every region's events in every other store.
	for i, t := range res.Targets {
		g := &out.Regions[i]
		if g.Checked {
			g.Missing = len(missing[i])
			g.Stored = g.Acked - g.Missing
			g.MissingSample = missing[i][:min(sampleSize, len(missing[i]))]
		}
		sent := append(slices.Clone(t.Events.Acked), t.Events.Unacked...)
		for _, other := range names {
			store, ok := opts.Stores[other]
			if other == t.Target.Name || !ok || len(sent) == 0 {
				continue
			}
			found, err := store.Stored(ctx, sent)
			if err != nil {
				return out, fmt.Errorf("residency: %s's store: %w", other, err)
			}
			if len(found) > 0 {
				slices.Sort(found)
				g.Elsewhere = append(g.Elsewhere, Misplaced{Store: other, Count: len(found), Sample: found[:min(sampleSize, len(found))]})
			}
		}
		out.Passed = out.Passed && g.Passed()
	}
	return out, nil
}

// without returns the uuids of all not in found.
func without(all, found []string) []string {
	have := make(map[string]bool, len(found))
	for _, u := range found {
		have[strings.ToLower(u)] = true
	}
	var out []string
	for _, u := range all {
		if !have[strings.ToLower(u)] {
			out = append(out, u)
		}
	}
	return out
}
