package teams

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/reference/schema"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, _ := newStoreWithServer(t)
	return s
}

// newStoreWithServer starts a PostgreSQL of its own, so a test may pause it.
func newStoreWithServer(t *testing.T) (*Store, *procs.Postgres) {
	t.Helper()
	ctx := context.Background()
	pg, err := procs.StartPostgres(ctx, procs.PostgresOptions{Database: "teams"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	pool, err := pgxpool.New(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := schema.ApplyPostgres(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return NewStore(pool), pg
}

func TestCreateAndValidate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	team, err := s.Create(ctx, "demo", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(team.Token, TokenPrefix) || len(team.Token) < 40 || team.ID == 0 {
		t.Fatalf("bad team %+v", team)
	}
	again, err := s.Create(ctx, "other name", team.Token)
	if err != nil || again.ID != team.ID || again.Name != "demo" {
		t.Fatalf("creating with an existing token must return that team: %+v, %v", again, err)
	}
	ok, err := s.Valid(ctx, team.Token)
	if err != nil || !ok {
		t.Fatalf("own token not valid: %v %v", ok, err)
	}
	ok, err = s.Valid(ctx, "phc_unknown")
	if err != nil || ok {
		t.Fatalf("unknown token valid: %v %v", ok, err)
	}
	if _, err := s.ByToken(ctx, "phc_unknown"); err != ErrUnknownToken {
		t.Fatalf("ByToken(unknown) = %v, want ErrUnknownToken", err)
	}
}

func TestNegativeCacheExpires(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	clock := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return clock }
	if ok, _ := s.Valid(ctx, "phc_later"); ok {
		t.Fatal("token valid before it exists")
	}
	// Written behind the cache's back, as another process would.
	if _, err := s.pool.Exec(ctx, "INSERT INTO teams (name, api_token) VALUES ('late', 'phc_later')"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Valid(ctx, "phc_later"); ok {
		t.Fatal("negative answer should be cached until it expires")
	}
	clock = clock.Add(s.negativeTTL + time.Millisecond)
	if ok, err := s.Valid(ctx, "phc_later"); !ok || err != nil {
		t.Fatalf("token not valid after the negative TTL: %v %v", ok, err)
	}
}

// TestValidDuringPausedPostgres pauses the whole PostgreSQL (SIGSTOP to postmaster and
// backends): a token never seen fails fast, tokens seen before keep working even
// after their cache entry expired.
func TestValidDuringPausedPostgres(t *testing.T) {
	ctx := context.Background()
	s, pg := newStoreWithServer(t)
	clock := time.Now()
	s.now = func() time.Time { return clock }
	team, err := s.Create(ctx, "paused", "")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Valid(ctx, "phc_unknown_before"); ok || err != nil {
		t.Fatalf("unknown token before the pause: %v %v", ok, err)
	}
	if err := pg.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Signal(syscall.SIGCONT) })

	start := time.Now()
	ok, err := s.Valid(ctx, "phc_never_seen")
	if took := time.Since(start); err == nil || ok || took > time.Second {
		t.Fatalf("unseen token with PostgreSQL paused: ok=%v err=%v after %s; want an error within 1s", ok, err, took)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded with PostgreSQL paused")
	}
	if ok, err := s.Valid(ctx, team.Token); !ok || err != nil {
		t.Fatalf("known token (cached) with PostgreSQL paused: %v %v", ok, err)
	}
	if ok, err := s.Valid(ctx, "phc_unknown_before"); ok || err != nil {
		t.Fatalf("unknown token (negative cache) with PostgreSQL paused: %v %v", ok, err)
	}
	clock = clock.Add(s.positiveTTL + time.Second) // the entry expired: PostgreSQL is asked, and fails
	start = time.Now()
	if ok, err := s.Valid(ctx, team.Token); !ok || err != nil || time.Since(start) > time.Second {
		t.Fatalf("known token after its TTL with PostgreSQL paused: %v %v after %s; want valid from the stale entry", ok, err, time.Since(start))
	}

	if err := pg.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(s.positiveTTL + time.Second)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after resume: %v", err)
	}
	if ok, err := s.Valid(ctx, team.Token); !ok || err != nil {
		t.Fatalf("known token after resume: %v %v", ok, err)
	}
}
