package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

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
	// their mean body size and to replay.
	DefaultBaselineSample = 2000
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
	// SideBare is vegeta's attacker sending one static body.
	SideBare = "bare"
	// SideReplay is vegeta's attacker replaying the realistic stream's first
	// DefaultBaselineSample targets, built before the attack.
	SideReplay = "replay"
	// SideRealistic is loadgen.Run with a traffic.Generator building every target
	// during the attack.
	SideRealistic = "realistic"
)

// BaselineOptions configure Baseline. Zero fields take the defaults noted.
type BaselineOptions struct {
	// Traffic configures shakedown's realistic traffic; BaseURL and Token are
	// required; Epoch defaults to Baseline's start, and Pool and First are
	// ignored. The realistic side's attacks go on with one stream, after the
	// targets the replay side replays, so every event they send is new while
	// the people are the replayed ones.
	Traffic traffic.Options
	// Static is the bare side's request (default: the typical request among
	// the stream's first DefaultBaselineSample targets: of their most common
	// kind and encoding, with their mean number of events; see typicalRequest).
	Static *vegeta.Target
	// NoReplay leaves out the replay side. Replaying the stream's own requests
	// costs the target what realistic traffic costs it, so Realistic/Replay is
	// what building targets during the attack costs; a static body may cost the
	// target less (fewer events, no decompression).
	NoReplay bool
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
	Bare, Replay, Realistic BaselineAttack
	// Order is the sides in the order attacked; rounds alternate it (bare,
	// replay, realistic, then the reverse), so drift of the target hits all alike.
	Order []string
	// Ratio is Realistic.Rate / Bare.Rate; ReplayRatio Realistic.Rate /
	// Replay.Rate (0 without the replay side).
	Ratio, ReplayRatio float64
}

// BaselineResult is what Baseline measured.
type BaselineResult struct {
	// The bare side's request: method, URL, body size and events in it (0 when
	// BaselineOptions.Static was given).
	StaticMethod, StaticURL   string
	StaticBytes, StaticEvents int
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
	MedianBare, MedianReplay, MedianRealistic float64
	MedianRatio, MedianReplayRatio            float64
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
// SideBare, SideReplay, SideRealistic), each paced far above what it reaches for
// Duration with the same MaxWorkers, so each rate is what that side achieves.
// The vegeta sides use vegeta's library with loadgen.Run's settings (keep-alive,
// 4 KiB of reply read) and only count replies; the realistic side is loadgen.Run
// with a fresh traffic.Generator: every event its own uuid and timestamp, the
// configured mix of kinds and encodings, results recorded as `shakedown load`
// records them. When ctx ends, Baseline returns the rounds completed with ctx's
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
	static := s.static
	if o.Static != nil {
		static = traffic.Target{Target: *o.Static}
	} else if static.Body == nil {
		return res, errors.New("loadgen: baseline: the traffic mix sends no request bodies to compare with; pass BaselineOptions.Static")
	}
	res.StaticMethod, res.StaticURL, res.StaticBytes, res.StaticEvents = static.Method, static.URL, len(static.Body), len(static.UUIDs)

	pacer := vegeta.ConstantPacer{Freq: int(math.Round(o.Rate)), Per: time.Second}
	attack := func(run int, side string, d time.Duration) (BaselineAttack, error) {
		var a BaselineAttack
		var err error
		cpu := processCPU()
		switch side {
		case SideBare:
			a = vegetaAttack(ctx, vegeta.NewStaticTargeter(static.Target), pacer, d, o)
		case SideReplay:
			a = vegetaAttack(ctx, vegeta.NewStaticTargeter(s.replay...), pacer, d, o)
		case SideRealistic:
			a, err = realisticAttack(ctx, gen, pacer, d, o)
		}
		a.CPU = processCPU() - cpu
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
	sides := []string{SideBare, SideReplay, SideRealistic}
	if o.NoReplay {
		sides = []string{SideBare, SideRealistic}
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
			case SideReplay:
				r.Replay = a
			case SideRealistic:
				r.Realistic = a
			}
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("loadgen: baseline stopped after %d of %d runs: %w", len(res.Runs), o.Runs, ctx.Err())
		}
		if r.Bare.Rate > 0 {
			r.Ratio = r.Realistic.Rate / r.Bare.Rate
		}
		if r.Replay.Rate > 0 {
			r.ReplayRatio = r.Realistic.Rate / r.Replay.Rate
		}
		res.Runs = append(res.Runs, r)
	}
	res.MedianBare = median(res.Runs, func(r BaselineRun) float64 { return r.Bare.Rate })
	res.MedianReplay = median(res.Runs, func(r BaselineRun) float64 { return r.Replay.Rate })
	res.MedianRealistic = median(res.Runs, func(r BaselineRun) float64 { return r.Realistic.Rate })
	res.MedianRatio = median(res.Runs, func(r BaselineRun) float64 { return r.Ratio })
	res.MedianReplayRatio = median(res.Runs, func(r BaselineRun) float64 { return r.ReplayRatio })
	return res, nil
}

type streamSample struct {
	meanBytes, meanEvents float64
	// static is the stream's typical request (see typicalRequest).
	static traffic.Target
	replay []vegeta.Target
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
		s.replay = append(s.replay, sample[i].Target)
	}

	s.meanBytes, s.meanEvents = float64(bytes)/float64(len(sample)), float64(events)/float64(len(sample))
	s.static = typicalRequest(sample, s.meanBytes, s.meanEvents)
	return s, nil
}

// typicalRequest picks the bare side's static body so that it costs the
// target what an average request of the stream costs: of the most common
// kind and encoding among POSTed event requests, the request holding the
// mean number of events, the nearest to the mean size among those. A plain
// JSON body of the mean size would hold fewer events than a compressed one
// and need no decompression, so it would measure the target, not the
// generator. Without POSTed events, any request with a body.
func typicalRequest(sample []traffic.Target, meanBytes, meanEvents float64) traffic.Target {
	type shape struct {
		kind traffic.Kind
		enc  phclient.Encoding
	}
	counts := map[shape]int{}
	var common shape
	for _, t := range sample {
		if t.Method != "POST" || len(t.UUIDs) == 0 {
			continue
		}
		k := shape{t.Kind, t.Encoding}
		counts[k]++
		if counts[k] > counts[common] {
			common = k
		}
	}
	var best traffic.Target
	found := false
	worse := func(a, b traffic.Target) bool { // a is further from the mean than b
		da, db := math.Abs(float64(len(a.UUIDs))-meanEvents), math.Abs(float64(len(b.UUIDs))-meanEvents)
		if da != db {
			return da > db
		}
		return math.Abs(float64(len(a.Body))-meanBytes) > math.Abs(float64(len(b.Body))-meanBytes)
	}
	for _, t := range sample {
		ok := len(t.Body) > 0
		if counts[common] > 0 {
			ok = ok && (shape{t.Kind, t.Encoding}) == common
		}
		if ok && (!found || worse(best, t)) {
			best, found = t, true
		}
	}
	return best
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
