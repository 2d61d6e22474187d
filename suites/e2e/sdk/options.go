package sdk

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The SDKs this layer drives, by the name used in --sdk.
const (
	// Go is posthog-go, compiled into this binary.
	Go = "go"
	// Node is posthog-node, installed with npm into the cache on first use.
	Node = "node"
	// NodeV1 is posthog-node in its opt-in capture mode v1
	// (POSTHOG_CAPTURE_MODE=v1: /i/v1/analytics/events with per-event results).
	NodeV1 = "node-v1"
	// JS is posthog-js, installed with npm and run in headless Chromium.
	JS = "js"
)

// Default releases: posthog-go is the one this module requires (it cannot be
// changed at run time); the npm ones can be chosen per run (node@5.70.0).
const (
	GoVersion            = "1.5.2"
	DefaultNodeVersion   = "5.70.0"
	DefaultJSVersion     = "1.449.2"
	PuppeteerCoreVersion = "25.16.0"
)

// ErrInvalidOptions wraps every error about Options (and --sdk specs) that the
// caller must fix; the CLI maps it to its usage exit code.
var ErrInvalidOptions = errors.New("invalid sdk options")

// Spec is one SDK release to drive.
type Spec struct {
	// Name is Go, Node or JS.
	Name string
	// Version is the release, e.g. "1.200.2".
	Version string
}

func (s Spec) String() string { return s.Name + "@" + s.Version }

// ParseSpecs reads a comma-separated list like "go,node,js@1.200.2": a name
// alone means its default release. Duplicates are dropped, the order kept.
func ParseSpecs(list string) ([]Spec, error) {
	var out []Spec
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, version, _ := strings.Cut(item, "@")
		name = strings.ToLower(strings.TrimSpace(name))
		version = strings.TrimPrefix(strings.TrimSpace(version), "v")
		switch name {
		case Go:
			if version != "" && version != GoVersion {
				return nil, fmt.Errorf("%w: %q: posthog-go is compiled in at %s; another release needs a rebuild with it in go.mod", ErrInvalidOptions, item, GoVersion)
			}
			version = GoVersion
		case Node, NodeV1:
			version = orDefault(version, DefaultNodeVersion)
		case JS:
			version = orDefault(version, DefaultJSVersion)
		default:
			return nil, fmt.Errorf("%w: unknown SDK %q in %q: use go, node, node-v1 or js, each optionally @version (js@1.200.2)", ErrInvalidOptions, name, list)
		}
		if !validVersion(version) {
			return nil, fmt.Errorf("%w: %q: the version must look like 1.2.3", ErrInvalidOptions, item)
		}
		s := Spec{Name: name, Version: version}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no SDK named in %q: use go, node and/or js", ErrInvalidOptions, list)
	}
	return out, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// validVersion accepts npm-style versions (digits and dots, an optional
// prerelease): nothing that could be read as an npm option or a path.
func validVersion(v string) bool {
	if v == "" || strings.HasPrefix(v, "-") {
		return false
	}
	for _, r := range v {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r == '.' || r == '-') {
			return false
		}
	}
	return v[0] >= '0' && v[0] <= '9'
}

// Options says which SDKs to drive against which deployment.
type Options struct {
	// Target is the capture API base URL (it also serves /flags and /decide).
	Target string
	// Token is the project API token.
	Token string
	// ClickHouse is a connection to the deployment's ClickHouse, where sent
	// events are looked up; Database holds its events table ("default" if empty).
	ClickHouse driver.Conn
	Database   string
	// Postgres, when set, is the deployment's PostgreSQL: the run configures
	// its flags (keys starting with "shakedown-") and a group type there, and
	// checks persons and groups. Without it, flag checks are reported as not
	// run and persons are checked through ClickHouse only.
	Postgres *pgxpool.Pool
	// SDKs are the releases to drive, in order (ParseSpecs reads --sdk).
	SDKs []Spec
	// Events is how many captures each SDK sends (posthog-js: at most 60,
	// because its client-side rate limiter drops bursts over 100).
	Events int
	// CacheDir holds npm installs, one directory per package set (default:
	// the user cache directory's shakedown/npm).
	CacheDir string
	// Chromium is the browser for posthog-js (default: chromium on PATH, then
	// /usr/bin/chromium).
	Chromium string
	// Wait bounds how long sent events may take to become queryable and
	// flags to reflect new configuration (default 1 minute).
	Wait time.Duration
	// Progress, when set, is told what each step is about to do.
	Progress func(step string)
}

func (o *Options) validate() error {
	switch {
	case o.Target == "" || o.Token == "":
		return fmt.Errorf("%w: the capture URL (Target) and the project token (Token) are required", ErrInvalidOptions)
	case !strings.HasPrefix(o.Target, "http://") && !strings.HasPrefix(o.Target, "https://"):
		return fmt.Errorf("%w: target %q is not an http(s) URL", ErrInvalidOptions, o.Target)
	case o.ClickHouse == nil:
		return fmt.Errorf("%w: a ClickHouse connection is required to check what was stored", ErrInvalidOptions)
	case len(o.SDKs) == 0:
		return fmt.Errorf("%w: no SDK to drive: name go, node and/or js", ErrInvalidOptions)
	case o.Events < 1:
		return fmt.Errorf("%w: events must be at least 1, got %d", ErrInvalidOptions, o.Events)
	}
	o.Target = strings.TrimRight(o.Target, "/")
	if o.Database == "" {
		o.Database = "default"
	}
	if o.Wait <= 0 {
		o.Wait = time.Minute
	}
	return nil
}

func (o *Options) progress(step string) {
	if o.Progress != nil {
		o.Progress(step)
	}
}
