package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/sync/errgroup"

	"github.com/shakedown-dev/shakedown/internal/phclient"
	"github.com/shakedown-dev/shakedown/loadgen/traffic"
)

// Defaults of BaselineOptions.
const (
	DefaultBaselineRuns     = 5
	DefaultBaselineDuration = 3 * time.Second
	DefaultBaselineRate     = 50_000
	DefaultBaselinePause    = time.Second
	DefaultBaselineWarmup   = time.Second
	// DefaultBaselineMaxWorkers bounds every side's workers. Unbounded workers at
	// a saturating rate open a connection per blocked worker until the target or
	// the file descriptors give out (measured on the local stack: 124,000
	// requests sent in 3 s, 98% of them failed), so the rates would measure the
	// collapse rather than the attackers.
	DefaultBaselineMaxWorkers = 256
	// DefaultBaselineSample is how many targets of the stream are built to find
	// their mean body size and the bare side's requests.
	DefaultBaselineSample = 2000
	// DefaultBaselinePrebuiltBytes bounds the bodies the prebuilt side builds
	// before one attack; past them it sends the built ones again (counted in
	// BaselineAttack.Repeated).
	DefaultBaselinePrebuiltBytes = 256 << 20
)

// ErrInvalidBaselineOptions marks an error in BaselineOptions: the CLI reports it
// as a usage error, before any request is sent. Errors in Traffic wrap
// traffic.ErrInvalidOptions instead.
var ErrInvalidBaselineOptions = errors.New("loadgen: invalid baseline options")

func invalidBaseline(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidBaselineOptions, fmt.Sprintf(format, a...))
}

// The sides of a Baseline run.
const (
	// SideBare is vegeta's attacker sending static bodies: one per kind and
	// encoding of the stream, in the stream's mix (see staticMix).
	SideBare = "bare"
	// SidePrebuilt is vegeta's attacker sending fresh requests of the realistic
	// stream built right before the attack: the same unique events as the
	// realistic side, so the target does the same work, without building them
	// during the attack.
	SidePrebuilt = "prebuilt"
	// SideRealistic is `shakedown load` by default: loadgen.Run with a
	// traffic.Generator that built the attack's requests before it (see
	// traffic.Generator.Prebuild; as many as the prebuilt side, up to
	// DefaultPrebuildMemory) and builds the rest during it.
	SideRealistic = "realistic"
	// SideLive is loadgen.Run with a traffic.Generator building every request
	// during the attack, ahead of the pacer on every core: `shakedown load`
	// with --prebuild-memory 0, or past its memory.
	SideLive = "live"
)

// DefaultPrebuildMemory is how much memory `shakedown load` spends by default
// on requests built before the attack (--prebuild-memory): at the default
// mix's ~3 KB a request, about 80,000 requests, built in about 2 s on 2 cores.
const DefaultPrebuildMemory = 256 << 20

// BaselineOptions configure Baseline. Zero fields take the defaults noted.
type BaselineOptions struct {
	// Traffic configures shakedown's realistic traffic; BaseURL and Token are
	// required; Epoch defaults to Baseline's start, and Pool and First are
	// ignored. The prebuilt and realistic sides take their requests from one
	// stream, after the sample the bare side's requests come from, so every
	// event they send is new.
	Traffic traffic.Options
	// Static, when set, is the bare side's only request. By default the bare
	// side sends one static request per kind and encoding of the stream's first
	// DefaultBaselineSample targets, in their mix (see staticMix).
	Static *vegeta.Target
	// NoPrebuilt leaves out the prebuilt side. It sends what the realistic side
	// sends, new events every one, so the target does the same work for both,
	// and Realistic/Prebuilt is what shakedown's attack path costs; the bare
	// side repeats its bodies, which may cost the target less.
	NoPrebuilt bool
	// NoLive leaves out the live side.
	NoLive bool
	// Runs is how many rounds of one attack per side to make (default
	// DefaultBaselineRuns).
	Runs int
	// Duration is the length of every attack (default DefaultBaselineDuration).
	Duration time.Duration
	// Rate is every attack's constant rate in requests per second (default
	// DefaultBaselineRate): above what any side reaches, so all run saturated
	// and the rates compared are what each achieves.
	Rate float64
	// MaxWorkers is every side's worker count, all started at once (default
	// DefaultBaselineMaxWorkers, which explains the bound; math.MaxUint64:
	// unbounded, as loadgen.Run's open model).
	MaxWorkers uint64
	// Pause is the wait after every attack, for the target to drain its backlog
	// (default DefaultBaselinePause; negative: none).
	Pause time.Duration
	// Warmup is the length of one uncounted attack per side made first (default
	// DefaultBaselineWarmup; negative: none).
	Warmup time.Duration
	// Timeout is the per-request timeout (default 30 s).
	Timeout time.Duration
	// Reversed starts the alternation with the reverse order (for callers that
	// make one round at a time).
	Reversed bool
	// Progress, when set, is told each attack right after it ends (run is -1 for
	// the warm-up).
	Progress func(run int, side string, a BaselineAttack)
}

// BaselineAttack is one attack's outcome.
type BaselineAttack struct {
	// Requests were sent; Success of them were answered 2xx/3xx.
	Requests, Success uint64
	// Rate is successful requests per second of the attack's duration.
	Rate float64
	// Codes counts replies by status (0: no reply).
	Codes map[uint16]uint64
	// CPU is the CPU time this process used during the attack: the attacker's
	// own, and the target's too when it runs in this process (0 where the
	// platform does not tell).
	CPU time.Duration
	// Built is how many requests were built before the attack (the prebuilt and
	// realistic sides); Repeated how many the prebuilt side sent a second time
	// or more, having sent them all; BuiltDuring how many the realistic and live
	// sides built during the attack.
	Built, Repeated, BuiltDuring uint64
}

// CPUPerSuccess is CPU per successful request.
func (a BaselineAttack) CPUPerSuccess() time.Duration {
	if a.Success == 0 {
		return 0
	}
	return a.CPU / time.Duration(a.Success)
}

// BaselineRun is one round: an attack per side, one right after the other.
type BaselineRun struct {
	Bare, Prebuilt, Realistic, Live BaselineAttack
	// Order is the sides in the order attacked; rounds alternate it (bare,
	// prebuilt, realistic, live, then the reverse), so drift of the target hits
	// all alike.
	Order []string
	// Ratio is Realistic.Rate / Bare.Rate; PrebuiltRatio Realistic.Rate /
	// Prebuilt.Rate; LiveRatio Live.Rate / Bare.Rate (0 for a side left out).
	Ratio, PrebuiltRatio, LiveRatio float64
}

// BaselineStatic is one of the bare side's static requests.
type BaselineStatic struct {
	Method, URL string
	// Kind and Encoding are the request's shape ("" when BaselineOptions.Static
	// was given).
	Kind     traffic.Kind
	Encoding phclient.Encoding
	// Bytes is the body's size; Events the events in it (0 when
	// BaselineOptions.Static was given).
	Bytes, Events int
	// Share is the part of the bare side's requests that are this one.
	Share float64
}

// BaselineResult is what Baseline measured.
type BaselineResult struct {
	// Statics are the bare side's requests, the most sent first.
	Statics []BaselineStatic
	// StaticMeanBytes and StaticMeanEvents are the body size and events per
	// request the bare side sends, over its mix.
	StaticMeanBytes, StaticMeanEvents float64
	// MeanBytes and MeanEvents are the body size and events per request of the
	// realistic stream's first DefaultBaselineSample targets.
	MeanBytes, MeanEvents float64
	// Rate is the pacers' rate; Duration every attack's length; MaxWorkers every
	// side's workers.
	Rate       float64
	Duration   time.Duration
	MaxWorkers uint64
	// Runs are in the order made.
	Runs []BaselineRun
	// The medians over Runs.
	MedianBare, MedianPrebuilt, MedianRealistic, MedianLive float64
	MedianRatio, MedianPrebuiltRatio, MedianLiveRatio       float64
}

func (o BaselineOptions) withDefaults() (BaselineOptions, error) {
	if o.Traffic.BaseURL == "" || o.Traffic.Token == "" {
		return o, invalidBaseline("Traffic.BaseURL and Traffic.Token are required: the capture URL and project token to attack")
	}
	if o.Runs == 0 {
		o.Runs = DefaultBaselineRuns
	}
	if o.Duration == 0 {
		o.Duration = DefaultBaselineDuration
	}
	if o.Rate == 0 {
		o.Rate = DefaultBaselineRate
	}
	if o.MaxWorkers == 0 {
		o.MaxWorkers = DefaultBaselineMaxWorkers
	}
	if o.Pause == 0 {
		o.Pause = DefaultBaselinePause
	}
	if o.Warmup == 0 {
		o.Warmup = DefaultBaselineWarmup
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	switch {
	case o.Runs < 1:
		return o, invalidBaseline("runs %d: want at least 1", o.Runs)
	case o.Duration < 0:
		return o, invalidBaseline("duration %s: want a positive length", o.Duration)
	case !(o.Rate >= 1) || math.IsInf(o.Rate, 0) || o.Rate > math.MaxInt32:
		return o, invalidBaseline("rate %v: want at least 1 request per second, above what the target can take", o.Rate)
	}
	o.Traffic.Pool, o.Traffic.First = 0, 0
	if o.Traffic.Epoch.IsZero() {
		o.Traffic.Epoch = time.Now()
	}
	return o, nil
}

// Baseline compares shakedown's realistic traffic with bare vegeta attackers on
// the same target, Runs times: in every round one attack per side (see
// SideBare, SidePrebuilt, SideRealistic, SideLive), each paced far above what
// it reaches for Duration with the same MaxWorkers, so each rate is what that
// side achieves. The vegeta sides use vegeta's library with loadgen.Run's
// settings (keep-alive, 4 KiB of reply read) and only count replies; the
// realistic and live sides are loadgen.Run with one traffic.Generator: every
// event its own uuid and timestamp, the configured mix of kinds and encodings,
// results recorded as `shakedown load` records them. When ctx ends, Baseline returns the rounds completed with ctx's
// error.
func Baseline(ctx context.Context, opts BaselineOptions) (BaselineResult, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return BaselineResult{}, err
	}
	res := BaselineResult{Rate: o.Rate, Duration: o.Duration, MaxWorkers: o.MaxWorkers}
	sampler, err := traffic.New(o.Traffic)
	if err != nil {
		return res, err
	}
	s, err := sampleStream(ctx, sampler)
	if err != nil {
		return res, err
	}
	realistic := o.Traffic
	realistic.First = DefaultBaselineSample
	gen, err := traffic.New(realistic)
	if err != nil {
		return res, err
	}
	res.MeanBytes, res.MeanEvents = s.meanBytes, s.meanEvents
	bare := s.static
	res.Statics, res.StaticMeanBytes, res.StaticMeanEvents = s.statics, s.staticBytes, s.staticEvents
	if o.Static != nil {
		bare = []vegeta.Target{*o.Static}
		res.Statics = []BaselineStatic{{Method: o.Static.Method, URL: o.Static.URL, Bytes: len(o.Static.Body), Share: 1}}
		res.StaticMeanBytes, res.StaticMeanEvents = float64(len(o.Static.Body)), 0
	}

	pacer := vegeta.ConstantPacer{Freq: int(math.Round(o.Rate)), Per: time.Second}
	best := 0.0 // the highest request rate of any attack so far
	attack := func(run int, side string, d time.Duration) (BaselineAttack, error) {
		var (
			a        BaselineAttack
			err      error
			prebuilt []vegeta.Target
		)
		// Enough for twice the best rate any side reached so far.
		n := max(DefaultBaselineSample, int(2*best*d.Seconds()))
		switch side {
		case SidePrebuilt:
			n = min(n, int(DefaultBaselinePrebuiltBytes/max(1, s.meanBytes)))
			if prebuilt, err = prebuild(ctx, gen, n); err != nil {
				return a, err
			}
		case SideRealistic:
			built, err := gen.Prebuild(ctx, n, DefaultPrebuildMemory, nil)
			if err != nil {
				return a, err
			}
			a.Built = uint64(built)
		case SideLive:
			gen.Prebuild(ctx, 0, 0, nil) // drop what the realistic side left
		}
		cpu := processCPU()
		switch side {
		case SideBare:
			a = vegetaAttack(ctx, vegeta.NewStaticTargeter(bare...), pacer, d, o)
		case SidePrebuilt:
			a = vegetaAttack(ctx, vegeta.NewStaticTargeter(prebuilt...), pacer, d, o)
			a.Built = uint64(len(prebuilt))
			if a.Requests > a.Built {
				a.Repeated = a.Requests - a.Built
			}
		case SideRealistic, SideLive:
			built := a.Built
			a, err = realisticAttack(ctx, gen, pacer, d, o)
			a.Built = built
			if a.Requests > a.Built {
				a.BuiltDuring = a.Requests - a.Built
			}
		}
		a.CPU = processCPU() - cpu
		best = max(best, float64(a.Requests)/d.Seconds())
		if err == nil && o.Progress != nil {
			o.Progress(run, side, a)
		}
		if o.Pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(o.Pause):
			}
		}
		return a, err
	}
	sides := []string{SideBare, SidePrebuilt, SideRealistic, SideLive}
	if o.NoPrebuilt {
		sides = slices.DeleteFunc(sides, func(s string) bool { return s == SidePrebuilt })
	}
	if o.NoLive {
		sides = slices.DeleteFunc(sides, func(s string) bool { return s == SideLive })
	}
	if o.Warmup > 0 {
		for _, side := range sides {
			if _, err := attack(-1, side, o.Warmup); err != nil {
				return res, err
			}
		}
	}
	for run := 0; run < o.Runs; run++ {
		r := BaselineRun{Order: slices.Clone(sides)}
		if (run%2 == 1) != o.Reversed {
			slices.Reverse(r.Order)
		}
		for _, side := range r.Order {
			if ctx.Err() != nil {
				return res, fmt.Errorf("loadgen: baseline stopped after %d of %d runs: %w", len(res.Runs), o.Runs, ctx.Err())
			}
			a, err := attack(run, side, o.Duration)
			if err != nil {
				return res, err
			}
			switch side {
			case SideBare:
				r.Bare = a
			case SidePrebuilt:
				r.Prebuilt = a
			case SideRealistic:
				r.Realistic = a
			case SideLive:
				r.Live = a
			}
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("loadgen: baseline stopped after %d of %d runs: %w", len(res.Runs), o.Runs, ctx.Err())
		}
		if r.Bare.Rate > 0 {
			r.Ratio = r.Realistic.Rate / r.Bare.Rate
		}
		if r.Prebuilt.Rate > 0 {
			r.PrebuiltRatio = r.Realistic.Rate / r.Prebuilt.Rate
		}
		if r.Bare.Rate > 0 {
			r.LiveRatio = r.Live.Rate / r.Bare.Rate
		}
		res.Runs = append(res.Runs, r)
	}
	res.MedianBare = median(res.Runs, func(r BaselineRun) float64 { return r.Bare.Rate })
	res.MedianPrebuilt = median(res.Runs, func(r BaselineRun) float64 { return r.Prebuilt.Rate })
	res.MedianRealistic = median(res.Runs, func(r BaselineRun) float64 { return r.Realistic.Rate })
	res.MedianLive = median(res.Runs, func(r BaselineRun) float64 { return r.Live.Rate })
	res.MedianLiveRatio = median(res.Runs, func(r BaselineRun) float64 { return r.LiveRatio })
	res.MedianRatio = median(res.Runs, func(r BaselineRun) float64 { return r.Ratio })
	res.MedianPrebuiltRatio = median(res.Runs, func(r BaselineRun) float64 { return r.PrebuiltRatio })
	return res, nil
}

type streamSample struct {
	meanBytes, meanEvents float64
	// static is the bare side's cycle of requests; statics describes them (see
	// staticMix).
	static                    []vegeta.Target
	statics                   []BaselineStatic
	staticBytes, staticEvents float64
}

// sampleStream builds the first DefaultBaselineSample targets of gen's stream.
func sampleStream(ctx context.Context, gen *traffic.Generator) (streamSample, error) {
	var (
		s   streamSample
		err error
	)
	sample := make([]traffic.Target, DefaultBaselineSample)
	bytes, events := 0, 0
	for i := range sample {
		if sample[i], err = gen.At(ctx, uint64(i)); err != nil {
			return s, err
		}
		bytes += len(sample[i].Body)
		events += len(sample[i].UUIDs)
	}
	s.meanBytes, s.meanEvents = float64(bytes)/float64(len(sample)), float64(events)/float64(len(sample))
	s.static, s.statics = staticMix(sample)
	for _, t := range s.static {
		s.staticBytes += float64(len(t.Body))
	}
	for _, st := range s.statics {
		s.staticEvents += st.Share * float64(st.Events)
	}
	s.staticBytes /= float64(len(s.static))
	return s, nil
}

// requestShape is what a request costs the target apart from its size: where
// it goes and how its body is encoded.
type requestShape struct {
	method   string
	kind     traffic.Kind
	encoding phclient.Encoding
}

// staticMix returns the bare side's requests: the sample with every request
// replaced by the typical one of its shape (method, kind, encoding), the one
// holding the shape's mean number of events and, among those, the nearest to
// its mean size. So the bare side sends a few static bodies and costs the
// target what the stream costs it: one typical body of the most common shape
// would leave out the dearer shapes (lz-string decoding, large batches), and
// a plain JSON body of the mean size holds fewer events and needs no
// decompression, so either would measure the target rather than the
// generator. statics lists the typical requests with their shares, the most
// sent first.
func staticMix(sample []traffic.Target) (cycle []vegeta.Target, statics []BaselineStatic) {
	type stats struct {
		n             int
		bytes, events float64
		best          *traffic.Target
	}
	byShape := map[requestShape]*stats{}
	shapeOf := func(t *traffic.Target) requestShape { return requestShape{t.Method, t.Kind, t.Encoding} }
	for i := range sample {
		st := byShape[shapeOf(&sample[i])]
		if st == nil {
			st = &stats{}
			byShape[shapeOf(&sample[i])] = st
		}
		st.n++
		st.bytes += float64(len(sample[i].Body))
		st.events += float64(len(sample[i].UUIDs))
	}
	for i := range sample {
		t := &sample[i]
		st := byShape[shapeOf(t)]
		meanEvents, meanBytes := st.events/float64(st.n), st.bytes/float64(st.n)
		if st.best == nil || farther(st.best, t, meanEvents, meanBytes) {
			st.best = t
		}
	}
	cycle = make([]vegeta.Target, len(sample))
	for i := range sample {
		cycle[i] = byShape[shapeOf(&sample[i])].best.Target
	}
	for shape, st := range byShape {
		statics = append(statics, BaselineStatic{Method: shape.method, URL: st.best.URL, Kind: shape.kind, Encoding: shape.encoding,
			Bytes: len(st.best.Body), Events: len(st.best.UUIDs), Share: float64(st.n) / float64(len(sample))})
	}
	slices.SortFunc(statics, func(a, b BaselineStatic) int {
		if a.Share != b.Share {
			return cmp.Compare(b.Share, a.Share)
		}
		return cmp.Compare(a.URL, b.URL)
	})
	return cycle, statics
}

// farther tells whether a is farther than b from a shape's mean number of
// events or, as near, from its mean size.
func farther(a, b *traffic.Target, meanEvents, meanBytes float64) bool {
	da, db := math.Abs(float64(len(a.UUIDs))-meanEvents), math.Abs(float64(len(b.UUIDs))-meanEvents)
	if da != db {
		return da > db
	}
	return math.Abs(float64(len(a.Body))-meanBytes) > math.Abs(float64(len(b.Body))-meanBytes)
}

// prebuild builds gen's next n targets on every core.
func prebuild(ctx context.Context, gen *traffic.Generator, n int) ([]vegeta.Target, error) {
	out := make([]vegeta.Target, n)
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				t, err := gen.Next(gctx)
				if err != nil {
					return err
				}
				out[i] = t.Target
			}
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("loadgen: baseline: build the prebuilt side's requests: %w", err)
	}
	return out, nil
}

func vegetaAttack(ctx context.Context, tr vegeta.Targeter, pacer vegeta.Pacer, d time.Duration, o BaselineOptions) BaselineAttack {
	atk := vegeta.NewAttacker(vegeta.Workers(o.MaxWorkers), vegeta.MaxWorkers(o.MaxWorkers), vegeta.KeepAlive(true),
		vegeta.MaxBody(4<<10), vegeta.Timeout(o.Timeout))
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	a := BaselineAttack{Codes: map[uint16]uint64{}}
	for res := range atk.Attack(tr, pacer, d, "bare") {
		a.Requests++
		a.Codes[res.Code]++
		if res.Error == "" && res.Code >= 200 && res.Code < 400 {
			a.Success++
		}
	}
	a.Rate = float64(a.Success) / d.Seconds()
	return a
}

func realisticAttack(ctx context.Context, gen *traffic.Generator, pacer vegeta.Pacer, d time.Duration, o BaselineOptions) (BaselineAttack, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the generator's builders
	rec, err := Run(actx, Attack{Name: "shakedown", Targeter: gen.Targeter(actx, nil), Pacer: pacer, Duration: d,
		Workers: o.MaxWorkers, MaxWorkers: o.MaxWorkers, Timeout: o.Timeout})
	if err != nil && ctx.Err() == nil {
		return BaselineAttack{}, err
	}
	s := rec.Summary()
	return BaselineAttack{Requests: s.Requests, Success: s.Success, Codes: s.Codes, Rate: float64(s.Success) / d.Seconds()}, nil
}

func median(runs []BaselineRun, f func(BaselineRun) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
