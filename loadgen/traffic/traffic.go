// Package traffic generates realistic PostHog traffic as a vegeta Targeter:
// posthog-js style single events and batches, server-SDK /batch bodies and
// /decide?v=3 calls, in a configurable mix of kinds and wire encodings (gzip-js,
// base64, lz64, form, GET, plain JSON — the encodings of internal/phclient), with
// Zipf-distributed distinct_ids and property sizes drawn from lognormal
// distributions. Every event has its own uuid and timestamp.
//
// Generation is deterministic: target i of a Generator depends only on the options
// and i, so the same seed yields the same requests byte for byte. It is also fast
// (a few microseconds per target): bodies are written straight into reused buffers
// from JSON fragments (the per-person ones cached), and the gzip writer, the
// lz-string compressor and the scratch buffers are reused; only what a target
// carries away (body, URL, uuids) is allocated, so vegeta owns it outright.
// Targeter builds targets ahead of the attack on every core (see Options.Ahead).
//
// A request's kind and encoding show in its URL (see Classify): /i/v0/e/ for single
// events, /e/ for arrays, /batch/ and /decide/, the compression parameter for
// gzip-js, base64 and lz64, and an enc parameter, which the capture API ignores,
// for gzip-magic and form.
package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/internal/phclient"
)

// Kind is the shape of one request.
type Kind string

// The kinds of request a Generator makes.
const (
	// Event is one event object posted to /i/v0/e/ (posthog-js with batching off).
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

// ErrInvalidOptions marks an error in the Options given to New: the CLI reports it
// as a usage error, before any request is sent.
var ErrInvalidOptions = errors.New("traffic: invalid options")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, a...))
}

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
	// Epoch is the time events are stamped from, to the millisecond: target i is
	// sent_at Epoch + i ms and its events a little before (default
	// 2026-01-01T00:00:00Z, so streams are reproducible; pass time.Now() for live
	// traffic).
	Epoch time.Time
	// SampleEvery marks every n-th event (by a hash of its uuid) as sampled for
	// end-to-end latency (0: none).
	SampleEvery uint64
	// Pool, when > 0, builds the first Pool targets once (Warm) and then cycles
	// through them: target i is target i%Pool with Index i. Fresh targets cost
	// about 30 µs of CPU each (most of it gzip and lz-string), some 30,000 per
	// second per core; a pool costs nothing during the attack but repeats events:
	// repeated targets carry repeated uuids (stored once), so only the first pass
	// is Sampled for end-to-end latency.
	Pool int
	// First is the index of the first target Next and Targeter return (default
	// 0), e.g. to go on with a stream where an earlier attack left it.
	First uint64
	// Ahead is how many targets Targeter keeps built ahead of the attack, by
	// GOMAXPROCS goroutines (default DefaultAhead; negative: none, every target is
	// built by the vegeta worker that asks for it). See Targeter.
	Ahead int
}

// DefaultAhead is Options.Ahead's default: a twentieth of a second at 5,000
// requests per second, about a megabyte of targets. Vegeta's workers build
// targets themselves when the queue runs dry, so a longer queue only adds the
// targets built in vain when an attack ends.
const DefaultAhead = 256

// maxCachedPeople bounds the people whose fixed properties are kept (the first
// ones, which the Zipf draw favours).
const maxCachedPeople = 1 << 16

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

// Target is one request with what it carries. Its Body, URL and UUIDs are its
// own; its Header is shared with the other targets of its content type and must
// not be modified.
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

	base      string // BaseURL without a trailing slash
	epochMs   int64
	tokenJSON []byte // the token as a JSON string
	tokenProp []byte // "token":<tokenJSON>
	headers   headers
	people    []atomic.Pointer[person]
	builders  chan *builder // idle builders, kept across garbage collections

	warmOnce sync.Once
	warmErr  error
	pool     []Target

	// prebuilt holds the targets Prebuild built, taken by Targeter first.
	prebuilt atomic.Pointer[prebuiltRun]
}

// prebuiltRun is one Prebuild's targets, in chunks of prebuiltChunk, and how
// many of them were taken.
type prebuiltRun struct {
	chunks [][]Target
	n      int64
	taken  atomic.Int64
}

// prebuiltChunk is how many targets a chunk of a prebuilt run holds: a run is
// allocated as it is built, not for the count asked.
const prebuiltChunk = 4096

// take returns the next prebuilt target, if one is left, and how many are left
// after it.
func (r *prebuiltRun) take() (Target, int, bool) {
	i := r.taken.Add(1) - 1
	if i >= r.n {
		return Target{}, 0, false
	}
	slot := &r.chunks[i/prebuiltChunk][i%prebuiltChunk]
	t := *slot
	*slot = Target{} // sent once: let it go
	return t, int(r.n - i - 1), true
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
		return nil, invalid("BaseURL is empty: pass the capture URL (e.g. http://127.0.0.1:8010)")
	}
	if opts.Token == "" {
		return nil, invalid("Token is empty: pass the project API token")
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
		return nil, invalid("ZipfS %v: must be > 1 (1.1 is typical)", opts.ZipfS)
	}
	if opts.BatchMean == 0 {
		opts.BatchMean = 8
	}
	if opts.BatchMean < 1 {
		return nil, invalid("BatchMean %v: must be >= 1", opts.BatchMean)
	}
	if opts.Pool < 0 {
		return nil, invalid("Pool %d: must be >= 0", opts.Pool)
	}
	if opts.BatchMax == 0 {
		opts.BatchMax = 100
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.Ahead == 0 {
		opts.Ahead = DefaultAhead
	}
	token, err := json.Marshal(opts.Token)
	if err != nil {
		return nil, fmt.Errorf("traffic: token %q: %w", opts.Token, err)
	}
	g := &Generator{opts: opts, base: strings.TrimRight(opts.BaseURL, "/"), epochMs: opts.Epoch.UnixMilli(),
		tokenJSON: token, tokenProp: append([]byte(`"token":`), token...), headers: newHeaders(),
		people:   make([]atomic.Pointer[person], min(opts.People, maxCachedPeople)),
		builders: make(chan *builder, 2*runtime.GOMAXPROCS(0))}
	g.next.Store(opts.First)
	if g.kinds, err = newWeighted("kind", opts.Kinds, Kinds()); err != nil {
		return nil, invalid("%v", err)
	}
	if g.encs, err = newWeighted("encoding", opts.Encodings, phclient.Encodings); err != nil {
		return nil, invalid("%v", err)
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
//
// Unless Options.Ahead is negative or a Pool is set, the first call starts
// GOMAXPROCS goroutines that build targets ahead into a queue of Options.Ahead, so
// vegeta's workers only take them (and build one themselves when the queue is
// empty). The goroutines stop when ctx ends: pass a context that ends with the
// attack. Indices are still drawn in order from the Generator's one counter, so
// every target is sent once and target i's content depends only on i, but
// targets built side by side may be sent a few places out of index order.
func (g *Generator) Targeter(ctx context.Context, observe func(*Target)) vegeta.Targeter {
	var (
		start sync.Once
		queue <-chan Target
	)
	return func(vt *vegeta.Target) error {
		if vt == nil {
			return vegeta.ErrNilTarget
		}
		var t Target
		if run := g.prebuilt.Load(); run != nil {
			var left int
			var ok bool
			if t, left, ok = run.take(); ok {
				if left <= g.opts.Ahead && g.opts.Pool <= 0 && g.opts.Ahead > 0 {
					start.Do(func() { queue = g.ahead(ctx) }) // the builders catch up before the prebuilt run ends
				}
				*vt = t.Target
				if observe != nil {
					observe(&t)
				}
				return nil
			}
		}
		if g.opts.Pool > 0 || g.opts.Ahead < 0 {
			var err error
			if t, err = g.Next(ctx); err != nil {
				return err
			}
		} else {
			start.Do(func() { queue = g.ahead(ctx) })
			select {
			case t = <-queue:
			default: // the builders are behind: build one here rather than wait
				t, _ = g.Next(ctx) // without a pool, building cannot fail
			}
		}
		*vt = t.Target
		if observe != nil {
			observe(&t)
		}
		return nil
	}
}

// Prebuild builds the stream's next targets before an attack, on every core,
// until n are built or their bodies and URLs hold maxBytes (0: no bound); the
// Targeter sends them first, in order, then builds as usual. A target's content
// depends only on its index, so building it early changes nothing that is sent,
// and the attack spends no CPU building what was prebuilt: for runs that fit
// in memory, the target gets the CPU a bare attacker would leave it. progress,
// when not nil, is called now and then with the count built so far. Call it
// before the attack's Targeter is used; a later call replaces the targets not
// yet taken, and n <= 0 drops them. With a Pool it does nothing. It returns
// how many it built.
func (g *Generator) Prebuild(ctx context.Context, n int, maxBytes int64, progress func(built int)) (int, error) {
	if g.opts.Pool > 0 {
		return 0, nil
	}
	if n <= 0 {
		g.prebuilt.Store(nil)
		return 0, nil
	}
	run := &prebuiltRun{}
	var (
		claimed atomic.Int64 // positions handed out
		bytes   atomic.Int64
		mu      sync.Mutex // guards run.chunks' growth and built
		built   int
	)
	slot := func(i int64) *Target {
		mu.Lock()
		defer mu.Unlock()
		for int64(len(run.chunks))*prebuiltChunk <= i {
			run.chunks = append(run.chunks, make([]Target, prebuiltChunk))
		}
		return &run.chunks[i/prebuiltChunk][i%prebuiltChunk]
	}
	first := g.next.Load()
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := g.newBuilder()
			done := 0
			for ctx.Err() == nil && (maxBytes <= 0 || bytes.Load() < maxBytes) {
				i := claimed.Add(1) - 1
				if i >= int64(n) {
					break
				}
				t := b.build(first + uint64(i))
				bytes.Add(t.memory())
				*slot(i) = t
				if done++; done%1024 == 0 && progress != nil {
					mu.Lock()
					built += 1024
					progress(built)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("traffic: prebuild: %w", err)
	}
	// Positions are claimed in order and every claimed one is built, so the
	// built ones are the first min(claimed, n).
	run.n = min(claimed.Load(), int64(n))
	g.next.Store(first + uint64(run.n))
	g.prebuilt.Store(run)
	if progress != nil {
		progress(int(run.n))
	}
	return int(run.n), nil
}

// memory is about what t takes in memory.
func (t *Target) memory() int64 {
	m := int64(unsafe.Sizeof(*t)) + int64(len(t.Body)+len(t.URL)+len(t.DistinctID))
	return m + int64(len(t.UUIDs)+len(t.Sampled))*int64(unsafe.Sizeof("")+36)
}

// ahead starts GOMAXPROCS goroutines that build the stream's next targets into the
// returned queue until ctx ends.
func (g *Generator) ahead(ctx context.Context) <-chan Target {
	queue := make(chan Target, g.opts.Ahead)
	for range runtime.GOMAXPROCS(0) {
		go func() {
			b := g.newBuilder()
			for ctx.Err() == nil {
				t := b.build(g.next.Add(1) - 1)
				select {
				case queue <- t:
				case <-ctx.Done():
				}
			}
		}()
	}
	return queue
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
func (g *Generator) build(_ context.Context, i uint64) (Target, error) {
	var b *builder
	select {
	case b = <-g.builders:
	default:
		b = g.newBuilder()
	}
	t := b.build(i)
	select {
	case g.builders <- b:
	default:
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
