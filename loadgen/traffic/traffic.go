// Package traffic generates realistic PostHog traffic as a vegeta Targeter:
// posthog-js style single events and batches, server-SDK /batch bodies and
// /decide?v=3 calls, in a configurable mix of kinds and wire encodings (gzip-js,
// base64, lz64, form, GET, plain JSON — built by internal/phclient), with
// Zipf-distributed distinct_ids and property sizes drawn from lognormal
// distributions.
//
// Generation is deterministic: target i of a Generator depends only on the seed and
// i, so the same seed yields the same requests byte for byte, and targets can be
// built concurrently by vegeta's workers without a lock.
package traffic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/internal/phclient"
)

// Kind is the shape of one request.
type Kind string

// The kinds of request a Generator makes.
const (
	// Event is one event object posted to /e/ (posthog-js with batching off).
	Event Kind = "event"
	// Array is a posthog-js batch: a JSON array of events posted to /e/.
	Array Kind = "array"
	// Batch is a server-SDK body {api_key, batch: [...], sent_at} posted to /batch/.
	Batch Kind = "batch"
	// Decide is a feature-flag call to /decide/?v=3.
	Decide Kind = "decide"
)

// Kinds lists every Kind.
func Kinds() []Kind { return []Kind{Event, Array, Batch, Decide} }

// Options configure a Generator. Zero fields take the defaults noted.
type Options struct {
	// BaseURL is the capture API's base URL, e.g. http://127.0.0.1:8010. Required.
	BaseURL string
	// Token is the project API token. Required.
	Token string
	// Seed makes the request stream: the same seed gives the same requests.
	Seed uint64
	// Kinds weights the request kinds (default DefaultKinds()). The share of /decide
	// calls is Kinds[Decide] over the sum of weights.
	Kinds map[Kind]float64
	// Encodings weights the wire encodings (default DefaultEncodings()). GET is only
	// used for single events (as browsers' image beacons do); batches draw from the
	// other encodings.
	Encodings map[phclient.Encoding]float64
	// People is how many distinct_ids exist (default 10,000); ZipfS (> 1, default
	// 1.1) skews how often each is seen: a few users send most events.
	People uint64
	ZipfS  float64
	// BatchMean is the mean number of events in an Array or Batch (default 8;
	// sizes are geometric, at most BatchMax, default 100).
	BatchMean float64
	BatchMax  int
	// Epoch is the time events are stamped from: target i's events are timestamped
	// Epoch + i ms (default 2026-01-01T00:00:00Z, so streams are reproducible; pass
	// time.Now() for live traffic).
	Epoch time.Time
	// SampleEvery marks every n-th event (by a hash of its uuid) as sampled for
	// end-to-end latency (0: none).
	SampleEvery uint64
	// Pool, when > 0, builds the first Pool targets once (Warm) and then cycles
	// through them: target i is target i%Pool with Index i. Building a realistic
	// target costs ~100-200 µs of CPU (JSON, gzip, lz-string), so fresh targets
	// top out at a few thousand per second per core; a pool reaches the attacker's
	// own limit. Repeated targets carry repeated uuids (stored once), so only the
	// first pass is Sampled for end-to-end latency.
	Pool int
}

// DefaultKinds returns the default request mix: mostly posthog-js traffic, some
// server SDK batches, and a tenth of /decide calls.
func DefaultKinds() map[Kind]float64 {
	return map[Kind]float64{Event: 0.30, Array: 0.40, Batch: 0.20, Decide: 0.10}
}

// DefaultEncodings returns the default encoding mix, close to what posthog-js
// versions in the wild send.
func DefaultEncodings() map[phclient.Encoding]float64 {
	return map[phclient.Encoding]float64{
		phclient.GzipJS: 0.45, phclient.JSON: 0.20, phclient.Base64Form: 0.10,
		phclient.LZ64Form: 0.10, phclient.PlainForm: 0.05, phclient.GetData: 0.05, phclient.GzipMagic: 0.05,
	}
}

// Target is one request with what it carries.
type Target struct {
	vegeta.Target
	// Index is the target's position in the Generator's stream.
	Index uint64
	Kind  Kind
	// Encoding is the wire encoding of the body.
	Encoding phclient.Encoding
	// UUIDs are the uuids of the events in the body (none for Decide).
	UUIDs []string
	// Sampled are the UUIDs chosen for end-to-end latency (see Options.SampleEvery).
	Sampled []string
	// DistinctID is the distinct_id of the request's (first) event.
	DistinctID string
}

// Generator makes Targets. It is safe for concurrent use.
type Generator struct {
	opts     Options
	kinds    weighted[Kind]
	encs     weighted[phclient.Encoding]
	bodyEncs weighted[phclient.Encoding] // without GET, for batches
	next     atomic.Uint64

	warmOnce sync.Once
	warmErr  error
	pool     []Target
}

type weighted[T comparable] struct {
	items []T
	cum   []float64
}

func newWeighted[T comparable](name string, m map[T]float64, order []T) (weighted[T], error) {
	var w weighted[T]
	total := 0.0
	for k, v := range m {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return w, fmt.Errorf("%s weight of %v is %v: weights must be finite and >= 0", name, k, v)
		}
		known := false
		for _, o := range order {
			known = known || o == k
		}
		if !known {
			return w, fmt.Errorf("unknown %s %v: use one of %v", name, k, order)
		}
	}
	for _, k := range order { // fixed order keeps draws deterministic
		if v := m[k]; v > 0 {
			total += v
			w.items = append(w.items, k)
			w.cum = append(w.cum, total)
		}
	}
	if total == 0 {
		return w, fmt.Errorf("%s weights are all zero: give at least one a positive weight", name)
	}
	for i := range w.cum {
		w.cum[i] /= total
	}
	return w, nil
}

func (w weighted[T]) pick(r *rand.Rand) T {
	x := r.Float64()
	i := sort.SearchFloat64s(w.cum, x)
	if i >= len(w.items) {
		i = len(w.items) - 1
	}
	return w.items[i]
}

// New checks opts and returns a Generator.
func New(opts Options) (*Generator, error) {
	if opts.BaseURL == "" {
		return nil, fmt.Errorf("traffic: BaseURL is empty: pass the capture URL (e.g. http://127.0.0.1:8010)")
	}
	if opts.Token == "" {
		return nil, fmt.Errorf("traffic: Token is empty: pass the project API token")
	}
	if opts.Kinds == nil {
		opts.Kinds = DefaultKinds()
	}
	if opts.Encodings == nil {
		opts.Encodings = DefaultEncodings()
	}
	if opts.People == 0 {
		opts.People = 10_000
	}
	if opts.ZipfS == 0 {
		opts.ZipfS = 1.1
	}
	if opts.ZipfS <= 1 {
		return nil, fmt.Errorf("traffic: ZipfS %v: must be > 1 (1.1 is typical)", opts.ZipfS)
	}
	if opts.BatchMean == 0 {
		opts.BatchMean = 8
	}
	if opts.BatchMean < 1 {
		return nil, fmt.Errorf("traffic: BatchMean %v: must be >= 1", opts.BatchMean)
	}
	if opts.Pool < 0 {
		return nil, fmt.Errorf("traffic: Pool %d: must be >= 0", opts.Pool)
	}
	if opts.BatchMax == 0 {
		opts.BatchMax = 100
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	g := &Generator{opts: opts}
	var err error
	if g.kinds, err = newWeighted("kind", opts.Kinds, Kinds()); err != nil {
		return nil, fmt.Errorf("traffic: %w", err)
	}
	if g.encs, err = newWeighted("encoding", opts.Encodings, phclient.Encodings); err != nil {
		return nil, fmt.Errorf("traffic: %w", err)
	}
	body := make(map[phclient.Encoding]float64, len(opts.Encodings))
	for k, v := range opts.Encodings {
		if k != phclient.GetData {
			body[k] = v
		}
	}
	if g.bodyEncs, err = newWeighted("encoding", body, phclient.Encodings); err != nil {
		g.bodyEncs, _ = newWeighted("encoding", map[phclient.Encoding]float64{phclient.JSON: 1}, phclient.Encodings)
	}
	return g, nil
}

// Options returns the Generator's options with defaults filled in.
func (g *Generator) Options() Options { return g.opts }

// Next returns the next target of the stream. Concurrent callers each get a
// distinct index.
func (g *Generator) Next(ctx context.Context) (Target, error) {
	return g.At(ctx, g.next.Add(1)-1)
}

// Targeter adapts the Generator to vegeta. observe, when not nil, is called with
// every target right before vegeta sends it (from vegeta's worker goroutines), e.g.
// to note the send time of sampled uuids.
func (g *Generator) Targeter(ctx context.Context, observe func(*Target)) vegeta.Targeter {
	return func(vt *vegeta.Target) error {
		if vt == nil {
			return vegeta.ErrNilTarget
		}
		t, err := g.Next(ctx)
		if err != nil {
			return err
		}
		*vt = t.Target
		if observe != nil {
			observe(&t)
		}
		return nil
	}
}

// rngFor returns the random source of target i: a pure function of seed and i.
func (g *Generator) rngFor(i uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.opts.Seed, splitmix(i^0x5bd1e995c0ffee)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Warm builds the pool of Options.Pool targets, using every CPU; it is a no-op
// without a pool. Call it before an attack: otherwise the first target builds it.
func (g *Generator) Warm(ctx context.Context) error {
	g.warmOnce.Do(func() {
		if g.opts.Pool <= 0 {
			return
		}
		pool := make([]Target, g.opts.Pool)
		workers := min(runtime.GOMAXPROCS(0), g.opts.Pool)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(pool); i += workers {
					if err := ctx.Err(); err != nil {
						errs[w] = fmt.Errorf("traffic: build target pool: %w", err)
						return
					}
					t, err := g.build(ctx, uint64(i))
					if err != nil {
						errs[w] = err
						return
					}
					pool[i] = t
				}
			}()
		}
		wg.Wait()
		if g.warmErr = errors.Join(errs...); g.warmErr == nil {
			g.pool = pool
		}
	})
	return g.warmErr
}

// At returns target i of the stream; it depends only on the options and i.
func (g *Generator) At(ctx context.Context, i uint64) (Target, error) {
	if g.opts.Pool <= 0 {
		return g.build(ctx, i)
	}
	if err := g.Warm(ctx); err != nil {
		return Target{}, err
	}
	t := g.pool[i%uint64(len(g.pool))]
	t.Index = i
	if i >= uint64(len(g.pool)) {
		t.Sampled = nil
	}
	return t, nil
}

// build makes target i from scratch.
func (g *Generator) build(ctx context.Context, i uint64) (Target, error) {
	r := g.rngFor(i)
	kind := g.kinds.pick(r)
	people := rand.NewZipf(r, g.opts.ZipfS, 1, g.opts.People-1)
	person := people.Uint64()
	distinctID := "u" + strconv.FormatUint(person, 36) + "-" + strconv.FormatUint(splitmix(person^g.opts.Seed)%1e9, 36)
	sentAt := g.opts.Epoch.Add(time.Duration(i) * time.Millisecond)
	t := Target{Index: i, Kind: kind, DistinctID: distinctID}

	var body []byte
	var path string
	var err error
	switch kind {
	case Decide:
		t.Encoding = g.encs.pick(r)
		path = "/decide/"
		body, err = decideBody(g.opts.Token, distinctID)
	case Event:
		t.Encoding = g.encs.pick(r)
		ev := g.event(r, distinctID, person, sentAt)
		t.UUIDs = []string{ev.UUID}
		path = "/e/"
		body, err = phclient.EventBody(g.opts.Token, ev)
	case Array, Batch:
		t.Encoding = g.bodyEncs.pick(r)
		n := g.batchSize(r)
		events := make([]phclient.Event, n)
		for j := range events {
			events[j] = g.event(r, distinctID, person, sentAt.Add(-time.Duration(n-j)*150*time.Millisecond))
			t.UUIDs = append(t.UUIDs, events[j].UUID)
		}
		if kind == Batch {
			path = "/batch/"
			body, err = phclient.BatchBody(g.opts.Token, events, sentAt)
		} else {
			path = "/e/"
			body, err = arrayBody(g.opts.Token, events)
		}
	}
	if err != nil {
		return t, fmt.Errorf("traffic: target %d (%s): %w", i, kind, err)
	}
	if g.opts.SampleEvery > 0 {
		for _, u := range t.UUIDs {
			if Sampled(u, g.opts.SampleEvery) {
				t.Sampled = append(t.Sampled, u)
			}
		}
	}
	req, err := phclient.NewRequest(ctx, g.opts.BaseURL, path, body, t.Encoding)
	if err != nil {
		return t, fmt.Errorf("traffic: target %d (%s, %s): %w", i, kind, t.Encoding, err)
	}
	q := req.URL.Query()
	if kind == Decide {
		q.Set("v", "3")
	}
	// posthog-js appends the client's clock in ms as a cache buster.
	q.Set("_", strconv.FormatInt(sentAt.UnixMilli(), 10))
	req.URL.RawQuery = q.Encode()
	t.Method, t.URL, t.Header = req.Method, req.URL.String(), req.Header
	if req.Body != nil {
		if br, ok := req.Body.(io.Reader); ok {
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(br); err != nil {
				return t, fmt.Errorf("traffic: target %d: read body: %w", i, err)
			}
			t.Body = buf.Bytes()
		}
	}
	return t, nil
}

// Sampled reports whether the event with uuid u is in the 1-in-every sample; the
// choice depends on the uuid only, so workers and pollers agree on it.
func Sampled(u string, every uint64) bool {
	if every <= 1 {
		return every == 1
	}
	var h uint64 = 14695981039346656037
	for i := 0; i < len(u); i++ {
		h ^= uint64(u[i])
		h *= 1099511628211
	}
	return splitmix(h)%every == 0
}

// batchSize draws a geometric batch size with mean BatchMean, capped at BatchMax.
func (g *Generator) batchSize(r *rand.Rand) int {
	p := 1 / g.opts.BatchMean
	n := 1
	if p < 1 {
		n = 1 + int(math.Floor(math.Log(1-r.Float64())/math.Log(1-p)))
	}
	return min(max(n, 1), g.opts.BatchMax)
}

func decideBody(token, distinctID string) ([]byte, error) {
	b := fmt.Appendf(nil, `{"token":%q,"distinct_id":%q,"groups":{}}`, token, distinctID)
	return b, nil
}

func arrayBody(token string, events []phclient.Event) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for j, ev := range events {
		b, err := phclient.EventBody(token, ev)
		if err != nil {
			return nil, err
		}
		if j > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}
