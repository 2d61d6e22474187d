package decide

import (
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shakedown-dev/shakedown/reference/edge"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultRefreshInterval is how often Run reloads flags and tokens.
	DefaultRefreshInterval = 30 * time.Second
	// DefaultMaxBody caps a request body (and its decoded form) in bytes.
	DefaultMaxBody = 2 << 20
)

// Config configures New.
type Config struct {
	// Postgres holds teams, feature_flags, persons and person_distinct_ids. Required.
	Postgres *pgxpool.Pool
	// RefreshInterval is the cache refresh period used by Run (default 30 s).
	RefreshInterval time.Duration
	// MaxBody caps the request body in bytes, before and after decoding (default 2 MiB).
	MaxBody int64
	// Logger receives refresh failures and lookup errors (default: discard).
	Logger *slog.Logger
	// Registerer receives the handler's metrics (shakedown_decide_*); nil registers
	// nothing. Two Handlers cannot share one Registerer.
	Registerer prometheus.Registerer
	// CORS is the replies' cross-origin policy; the zero value allows any origin
	// without credentials. Give capture's Config.CORS the same policy.
	CORS edge.CORS
}

func (c Config) withDefaults() Config {
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
