package gate

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/shakedown-dev/shakedown/loadgen/threshold"
	"github.com/shakedown-dev/shakedown/suites/e2e/sdk"
)

// ConfigVersion is the gate file version this shakedown reads.
const ConfigVersion = 1

// ErrInvalidConfig wraps every error about a gate file or Options the caller
// must fix: the CLI exits 2 for them.
var ErrInvalidConfig = errors.New("invalid gate configuration")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
}

// Config is a gate file: which stages run, and what each holds the release to.
// Every stage is on unless `enabled: false`; fields left out take the
// defaults of DefaultConfig.
type Config struct {
	// Version must be ConfigVersion.
	Version int    `json:"version"`
	Stages  Stages `json:"stages"`
}

// Stages are the gate's stages, in the order they run.
type Stages struct {
	Chart   ChartStage  `json:"chart"`
	Install Switch      `json:"install"`
	Smoke   SmokeStage  `json:"smoke"`
	E2E     E2EStage    `json:"e2e"`
	Load    LoadStage   `json:"load"`
	Faults  FaultsStage `json:"faults"`
	GoLive  GoLiveStage `json:"golive"`
}

// Switch turns a stage off with `enabled: false`.
type Switch struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// On tells whether the stage runs (true unless turned off).
func (s Switch) On() bool { return s.Enabled == nil || *s.Enabled }

// ChartStage lints the chart (Options.Chart) over its cloud overlays and
// Kubernetes versions and runs its helm-unittest suites.
type ChartStage struct {
	Switch
	// Kubernetes are the versions to lint and unit-test at (default: the
	// chart repository's fixtures/kubernetes.yaml).
	Kubernetes []string `json:"kubernetes,omitempty"`
}

// SmokeStage checks that the deployment is up before anything is sent.
type SmokeStage struct {
	Switch
	// Metrics are series /metrics must expose (default: capture's requests and
	// accepted events).
	Metrics []string `json:"metrics,omitempty"`
}

// E2EStage sends uniquely identified events and requires every acknowledged
// one stored exactly once; it also asks the flags endpoints for a person's
// flags.
type E2EStage struct {
	Switch
	// Events and People size the stream (defaults 2,000 and 200).
	Events int `json:"events,omitempty"`
	People int `json:"people,omitempty"`
	// Wait bounds how long acknowledged events may take to be stored
	// (default 2m).
	Wait Duration `json:"wait,omitempty"`
	// SDKs are real PostHog SDKs driven against the deployment, in the
	// syntax of `shakedown e2e --sdk` (default [go]: posthog-go, compiled
	// in; node and js need Node.js, npm and Chromium). Their flags are
	// configured and checked end to end when the deployment's PostgreSQL is
	// known (--state). An empty list drives none.
	SDKs []string `json:"sdks,omitempty"`
}

// LoadStage drives realistic traffic at a paced rate and holds it to
// thresholds (the syntax of `shakedown load --threshold`).
type LoadStage struct {
	Switch
	// Rate in requests per second (default 100) for Duration (default 20s).
	Rate     float64  `json:"rate,omitempty"`
	Duration Duration `json:"duration,omitempty"`
	// Thresholds must all hold (default p(95)<500ms, errors<1%,
	// rate>=0.95*target).
	Thresholds []string `json:"thresholds,omitempty"`
	// Margin, when a previous result is given (--baseline), is how much worse
	// p95 latency and throughput may get before the gate fails (default 20%).
	// Latency fails only when the bootstrap interval of the p95 difference
	// lies wholly above both the margin and LatencyFloor.
	Margin string `json:"margin,omitempty"`
	// LatencyFloor is the smallest p95 increase that counts as a regression,
	// whatever the margin (default 10ms): a few milliseconds of jitter on a
	// fast deployment is not one.
	LatencyFloor Duration `json:"latency_floor,omitempty"`
}

// FaultsStage drills faults while events stream in, one at a time: every
// event acknowledged must be stored exactly once (RPO 0), and events must
// flow again soon after each fault ends (RTO). It needs a deployment the gate
// can break: the local stack of `shakedown stack up --state DIR`.
type FaultsStage struct {
	Switch
	// Faults to drill, by name (default all: clickhouse-pause,
	// clickhouse-kill, postgres-pause, postgres-kill, worker-restart).
	Faults []string `json:"faults,omitempty"`
	// Events streamed over Stream per drill (defaults 1,500 over 6s).
	Events int      `json:"events,omitempty"`
	Stream Duration `json:"stream,omitempty"`
	// MaxRTO bounds the time from a fault's end until an event sent then is
	// stored (default 30s).
	MaxRTO Duration `json:"max_rto,omitempty"`
}

// GoLiveStage checks the production checklist a release is held to before it
// takes traffic. A check whose expectation is not declared is skipped and
// says what to declare.
type GoLiveStage struct {
	Switch
	// TLSMinDays: on an https target the certificate must verify against the
	// system's roots and stay valid this many more days (default 14).
	TLSMinDays int `json:"tls_min_days,omitempty"`
	// RateLimitBurst, when above 0, is how many events sent at once must draw
	// a 429 from capture: its per-project limit is on and below that.
	RateLimitBurst int `json:"rate_limit_burst,omitempty"`
	// CORSAllowed are browser origins whose preflight must be answered, as
	// posthog-js on those sites needs (default one unrelated origin: any site
	// may send events, PostHog's policy). CORSDenied must get no CORS headers.
	CORSAllowed []string `json:"cors_allowed,omitempty"`
	CORSDenied  []string `json:"cors_denied,omitempty"`
	// RequireBackups requires a backup CronJob in a release given with a
	// cluster (default true).
	RequireBackups *bool `json:"require_backups,omitempty"`
	// Retention, when set, is the events table's TTL as ClickHouse shows it
	// (e.g. "toDateTime(timestamp) + toIntervalDay(90)"); "none" requires no TTL.
	Retention string `json:"retention,omitempty"`
}

// Duration is a time.Duration written as "20s" in a gate file.
type Duration time.Duration

// UnmarshalJSON reads "20s", "2m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("duration %s: want a length such as 20s or 2m", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes "20s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// DefaultConfig is the gate of a gate file that sets nothing: every stage on,
// sized to pass on a healthy local stack in about a minute.
func DefaultConfig() Config {
	return Config{Version: ConfigVersion, Stages: Stages{
		Smoke: SmokeStage{Metrics: []string{"shakedown_capture_http_requests_total", "shakedown_capture_events_accepted_total"}},
		E2E:   E2EStage{Events: 2000, People: 200, Wait: Duration(2 * time.Minute), SDKs: []string{"go"}},
		Load: LoadStage{Rate: 100, Duration: Duration(20 * time.Second),
			Thresholds: []string{"p(95)<500ms", "errors<1%", "rate>=0.95*target"}, Margin: "20%", LatencyFloor: Duration(10 * time.Millisecond)},
		Faults: FaultsStage{Faults: faultNames(), Events: 1500, Stream: Duration(6 * time.Second), MaxRTO: Duration(30 * time.Second)},
		GoLive: GoLiveStage{TLSMinDays: 14, CORSAllowed: []string{"https://shop.example"}},
	}}
}

// withDefaults fills what c leaves out from DefaultConfig and checks it.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Version != ConfigVersion {
		return c, invalid("version %d: this shakedown reads gate files of version %d (write one with `shakedown gate init`)", c.Version, ConfigVersion)
	}
	s, ds := &c.Stages, d.Stages
	fillSlice(&s.Smoke.Metrics, ds.Smoke.Metrics)
	fill(&s.E2E.Events, ds.E2E.Events)
	fill(&s.E2E.People, ds.E2E.People)
	fill(&s.E2E.Wait, ds.E2E.Wait)
	fillSlice(&s.E2E.SDKs, ds.E2E.SDKs)
	fill(&s.Load.Rate, ds.Load.Rate)
	fill(&s.Load.Duration, ds.Load.Duration)
	fillSlice(&s.Load.Thresholds, ds.Load.Thresholds)
	fill(&s.Load.Margin, ds.Load.Margin)
	fill(&s.Load.LatencyFloor, ds.Load.LatencyFloor)
	fillSlice(&s.Faults.Faults, ds.Faults.Faults)
	fill(&s.Faults.Events, ds.Faults.Events)
	fill(&s.Faults.Stream, ds.Faults.Stream)
	fill(&s.Faults.MaxRTO, ds.Faults.MaxRTO)
	fill(&s.GoLive.TLSMinDays, ds.GoLive.TLSMinDays)
	fillSlice(&s.GoLive.CORSAllowed, ds.GoLive.CORSAllowed)
	for _, o := range append(slices.Clone(s.GoLive.CORSAllowed), s.GoLive.CORSDenied...) {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return c, invalid("stages.golive: CORS origin %q: want scheme://host[:port], like https://app.example.com", o)
		}
	}
	if s.GoLive.TLSMinDays < 0 || s.GoLive.RateLimitBurst < 0 {
		return c, invalid("stages.golive: tls_min_days and rate_limit_burst must not be negative")
	}
	for _, name := range s.Faults.Faults {
		if !slices.Contains(faultNames(), name) {
			return c, invalid("stages.faults.faults: unknown fault %q: want some of %s", name, strings.Join(faultNames(), ", "))
		}
	}
	switch {
	case s.Faults.Events < 1:
		return c, invalid("stages.faults.events %d: want at least 1", s.Faults.Events)
	case s.E2E.Events < 1 || s.E2E.People < 1:
		return c, invalid("stages.e2e: events %d and people %d must be at least 1", s.E2E.Events, s.E2E.People)
	case s.Load.Rate < 0.001:
		return c, invalid("stages.load.rate %v: want at least 0.001 requests per second", s.Load.Rate)
	}
	if len(s.E2E.SDKs) > 0 {
		if _, err := sdk.ParseSpecs(strings.Join(s.E2E.SDKs, ",")); err != nil {
			return c, invalid("stages.e2e.sdks: %v", err)
		}
	}
	if _, err := threshold.ParseAll(s.Load.Thresholds); err != nil {
		return c, invalid("stages.load.thresholds: %v", err)
	}
	if _, err := threshold.ParseShare(s.Load.Margin); err != nil {
		return c, invalid("stages.load.margin %q: %v", s.Load.Margin, err)
	}
	return c, nil
}

// fill sets *v to d when the file left it out (zero).
func fill[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// fillSlice sets *v to d when the file left it out (an empty list given is kept).
func fillSlice[T any](v *[]T, d []T) {
	if *v == nil {
		*v = d
	}
}

// ReadConfig reads a gate file; unknown fields are errors, so a misspelt
// stage or setting is not silently ignored.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, invalid("read gate file: %v (write one with `shakedown gate init`)", err)
	}
	return ParseConfig(path, b)
}

// ParseConfig parses a gate file's bytes; name is for messages.
func ParseConfig(name string, b []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return Config{}, invalid("gate file %s: %v", name, err)
	}
	return c.withDefaults()
}

//go:embed gate.default.yaml
var defaultFile []byte

// DefaultFile is what `shakedown gate init` writes: DefaultConfig with every
// setting explained.
func DefaultFile() []byte { return bytes.Clone(defaultFile) }
