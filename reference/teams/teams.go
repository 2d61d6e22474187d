// Package teams manages the reference stack's projects ("teams" in PostHog) and their
// project API tokens in PostgreSQL, with a small in-memory cache for the hot path of
// validating a token on every capture request.
package teams

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TokenPrefix starts every project API token this package makes, as in PostHog.
const TokenPrefix = "phc_"

// Team is one project.
type Team struct {
	ID    int64
	Name  string
	Token string
}

// Defaults of NewStore.
const (
	// DefaultPositiveTTL is how long a valid token is trusted without asking PostgreSQL.
	DefaultPositiveTTL = time.Minute
	// DefaultNegativeTTL is how long an unknown token is refused without asking again,
	// so a new project's token works within it.
	DefaultNegativeTTL = 2 * time.Second
	// DefaultLookupTimeout bounds one token lookup (and Ping), so that a paused or
	// unreachable PostgreSQL turns into a fast error (capture answers 503) instead of
	// requests that hang.
	DefaultLookupTimeout = 500 * time.Millisecond
)

// Store reads and writes teams. Valid answers from a cache that keeps hits for
// DefaultPositiveTTL and misses for DefaultNegativeTTL, so a new token works within
// DefaultNegativeTTL. A token once found valid stays valid while PostgreSQL cannot
// be asked, so a database outage does not stop known projects from capturing.
type Store struct {
	pool          *pgxpool.Pool
	positiveTTL   time.Duration
	negativeTTL   time.Duration
	lookupTimeout time.Duration
	now           func() time.Time

	mu    sync.Mutex
	cache map[string]cacheEntry
}

type cacheEntry struct {
	valid   bool
	expires time.Time
}

// StoreOption adjusts a Store made by NewStore.
type StoreOption func(*Store)

// PositiveTTL sets how long a valid token is trusted without asking PostgreSQL
// (default DefaultPositiveTTL); zero or less keeps the default.
func PositiveTTL(d time.Duration) StoreOption {
	return func(s *Store) {
		if d > 0 {
			s.positiveTTL = d
		}
	}
}

// NewStore returns a Store over pool (the schema must be migrated).
func NewStore(pool *pgxpool.Pool, opts ...StoreOption) *Store {
	s := &Store{
		pool:          pool,
		positiveTTL:   DefaultPositiveTTL,
		negativeTTL:   DefaultNegativeTTL,
		lookupTimeout: DefaultLookupTimeout,
		now:           time.Now,
		cache:         map[string]cacheEntry{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Create adds a team; an empty token gets a fresh random one.
func (s *Store) Create(ctx context.Context, name, token string) (Team, error) {
	if token == "" {
		var err error
		if token, err = NewToken(); err != nil {
			return Team{}, err
		}
	}
	t := Team{Name: name, Token: token}
	err := s.pool.QueryRow(ctx,
		`INSERT INTO teams (name, api_token) VALUES ($1, $2)
		 ON CONFLICT (api_token) DO UPDATE SET name = teams.name
		 RETURNING id, name`, name, token).Scan(&t.ID, &t.Name)
	if err != nil {
		return Team{}, fmt.Errorf("create team %q: %w", name, err)
	}
	s.remember(token, true)
	return t, nil
}

// ByToken returns the team owning token, or ErrUnknownToken.
func (s *Store) ByToken(ctx context.Context, token string) (Team, error) {
	t := Team{Token: token}
	err := s.pool.QueryRow(ctx, `SELECT id, name FROM teams WHERE api_token = $1`, token).Scan(&t.ID, &t.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return Team{}, ErrUnknownToken
	}
	if err != nil {
		return Team{}, fmt.Errorf("look up team by token: %w", err)
	}
	return t, nil
}

// ErrUnknownToken is returned for a token no team has.
var ErrUnknownToken = errors.New("unknown project token")

// Valid reports whether token belongs to a team; it satisfies capture.TokenValidator.
// A lookup is bounded by DefaultLookupTimeout; when it fails, a token found valid
// before (however long ago) is still valid, and any other gets the error.
func (s *Store) Valid(ctx context.Context, token string) (bool, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.cache[token]
	s.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.valid, nil
	}
	lctx, cancel := context.WithTimeout(ctx, s.lookupTimeout)
	defer cancel()
	_, err := s.ByToken(lctx, token)
	switch {
	case errors.Is(err, ErrUnknownToken):
		s.remember(token, false)
		return false, nil
	case err != nil && ok && e.valid:
		return true, nil // stale but known good: keep the project capturing through the outage
	case err != nil:
		return false, fmt.Errorf("check project token in PostgreSQL (lookup bounded to %s; retry later): %w", s.lookupTimeout, err)
	}
	s.remember(token, true)
	return true, nil
}

func (s *Store) remember(token string, valid bool) {
	ttl := s.negativeTTL
	if valid {
		ttl = s.positiveTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) > 100_000 { // bound memory against token-guessing traffic
		s.cache = map[string]cacheEntry{}
	}
	s.cache[token] = cacheEntry{valid: valid, expires: s.now().Add(ttl)}
}

// Ping checks that PostgreSQL answers within DefaultLookupTimeout; readiness probes
// use it to name the token store when it fails.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.lookupTimeout)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("token store (PostgreSQL) did not answer a ping within %s: %w", s.lookupTimeout, err)
	}
	return nil
}

// NewToken returns a random project token: TokenPrefix and 43 URL-safe characters.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make project token: %w", err)
	}
	return TokenPrefix + strings.TrimRight(base64.RawURLEncoding.EncodeToString(b), "="), nil
}
