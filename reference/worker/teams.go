package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// teamCache resolves project API tokens to team ids from PostgreSQL teams.api_token.
// Known tokens are kept for hitTTL; unknown ones for missTTL, so a team created
// after its first event is found again soon.
type teamCache struct {
	pool    *pgxpool.Pool
	hitTTL  time.Duration
	missTTL time.Duration

	mu      sync.Mutex
	entries map[string]teamEntry
}

// maxTeamEntries bounds the cache; it is emptied when full.
const maxTeamEntries = 100_000

type teamEntry struct {
	id      int64 // 0: unknown token
	expires time.Time
}

func newTeamCache(pool *pgxpool.Pool, hitTTL, missTTL time.Duration) *teamCache {
	return &teamCache{pool: pool, hitTTL: hitTTL, missTTL: missTTL, entries: map[string]teamEntry{}}
}

// lookup returns the team id for token, or ok=false when no team has it. An error
// means PostgreSQL could not be asked and the caller should retry.
func (c *teamCache) lookup(ctx context.Context, token string) (id int64, ok bool, err error) {
	now := time.Now()
	c.mu.Lock()
	e, hit := c.entries[token]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return e.id, e.id != 0, nil
	}
	err = c.pool.QueryRow(ctx, "SELECT id FROM teams WHERE api_token = $1", token).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		id, err = 0, nil
	case err != nil:
		return 0, false, fmt.Errorf("look up team by token: %w", err)
	}
	ttl := c.hitTTL
	if id == 0 {
		ttl = c.missTTL
	}
	c.mu.Lock()
	if len(c.entries) >= maxTeamEntries { // garbage tokens must not grow the cache without bound
		c.entries = map[string]teamEntry{}
	}
	c.entries[token] = teamEntry{id: id, expires: now.Add(ttl)}
	c.mu.Unlock()
	return id, id != 0, nil
}
