package decide

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/reference/schema"
)

// testDB is the one PostgreSQL the package's tests share, started on first use;
// every test makes its own team, so tests do not see each other's flags.
var testDB struct {
	once sync.Once
	pg   *procs.Postgres
	pool *pgxpool.Pool
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testDB.pool != nil {
		testDB.pool.Close()
	}
	if testDB.pg != nil {
		if err := testDB.pg.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop postgres:", err)
		}
	}
	os.Exit(code)
}

// pool returns a pool on the shared, migrated PostgreSQL.
func pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	testDB.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		testDB.pg, testDB.err = procs.StartPostgres(ctx, procs.PostgresOptions{Database: "decide_test"})
		if testDB.err != nil {
			return
		}
		testDB.pool, testDB.err = pgxpool.New(context.Background(), testDB.pg.DSN)
		if testDB.err != nil {
			return
		}
		testDB.err = schema.ApplyPostgres(ctx, testDB.pool)
	})
	var missing *procs.MissingBinaryError
	if errors.As(testDB.err, &missing) {
		tb.Skipf("no PostgreSQL here: %v", testDB.err)
	}
	if testDB.err != nil {
		tb.Fatalf("start PostgreSQL: %v", testDB.err)
	}
	return testDB.pool
}

// newTeam inserts a team with a fresh token and returns its id and token.
func newTeam(tb testing.TB, db *pgxpool.Pool) (int64, string) {
	tb.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := "phc_test_" + hex.EncodeToString(b)
	var id int64
	if err := db.QueryRow(context.Background(), `INSERT INTO teams (name, api_token) VALUES ($1, $2) RETURNING id`,
		tb.Name(), token).Scan(&id); err != nil {
		tb.Fatalf("insert team: %v", err)
	}
	return id, token
}

// flagRow is a feature_flags row to insert.
type flagRow struct {
	key      string
	filters  string
	inactive bool
	deleted  bool
}

func addFlags(tb testing.TB, db *pgxpool.Pool, teamID int64, flags ...flagRow) {
	tb.Helper()
	for _, f := range flags {
		if _, err := db.Exec(context.Background(),
			`INSERT INTO feature_flags (team_id, key, name, active, deleted, filters) VALUES ($1, $2, $2, $3, $4, $5::jsonb)`,
			teamID, f.key, !f.inactive, f.deleted, f.filters); err != nil {
			tb.Fatalf("insert flag %s: %v", f.key, err)
		}
	}
}

// addPerson stores a person with props reachable through each of distinctIDs.
func addPerson(tb testing.TB, db *pgxpool.Pool, teamID int64, props map[string]any, distinctIDs ...string) {
	tb.Helper()
	ctx := context.Background()
	js, err := json.Marshal(props)
	if err != nil {
		tb.Fatal(err)
	}
	var personID int64
	if err := db.QueryRow(ctx, `INSERT INTO persons (team_id, uuid, properties) VALUES ($1, gen_random_uuid(), $2::jsonb) RETURNING id`,
		teamID, string(js)).Scan(&personID); err != nil {
		tb.Fatalf("insert person: %v", err)
	}
	for _, d := range distinctIDs {
		if _, err := db.Exec(ctx, `INSERT INTO person_distinct_ids (team_id, distinct_id, person_id) VALUES ($1, $2, $3)`,
			teamID, d, personID); err != nil {
			tb.Fatalf("insert distinct_id %s: %v", d, err)
		}
	}
}

// newHandler builds a Handler on db with its own metrics registry.
func newHandler(tb testing.TB, db *pgxpool.Pool) (*Handler, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	h, err := New(context.Background(), Config{Postgres: db, Registerer: reg, RefreshInterval: time.Hour})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return h, reg
}

// answer is a decoded /decide reply.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call POSTs body (marshalled unless it is already a string) to /decide?v=3.
func call(tb testing.TB, h http.Handler, body any) answer {
	tb.Helper()
	var b []byte
	if s, ok := body.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(body); err != nil {
			tb.Fatal(err)
		}
	}
	return do(tb, h, httptest.NewRequest(http.MethodPost, "/decide/?v=3", bytes.NewReader(b)))
}

func do(tb testing.TB, h http.Handler, req *http.Request) answer {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
			tb.Fatalf("reply is not a JSON object: %v: %s", err, rec.Body.String())
		}
	}
	return a
}

// flags returns the featureFlags map of a 200 reply, failing otherwise.
func (a answer) flags(tb testing.TB) map[string]any {
	tb.Helper()
	if a.status != http.StatusOK {
		tb.Fatalf("status %d, want 200: %s", a.status, a.raw)
	}
	m, ok := a.body["featureFlags"].(map[string]any)
	if !ok {
		tb.Fatalf("featureFlags is %T, want an object: %s", a.body["featureFlags"], a.raw)
	}
	return m
}

// flagsFor asks for distinctID's flags with optional person properties.
func flagsFor(tb testing.TB, h http.Handler, token, distinctID string, props map[string]any) map[string]any {
	tb.Helper()
	body := map[string]any{"token": token, "distinct_id": distinctID}
	if props != nil {
		body["person_properties"] = props
	}
	return call(tb, h, body).flags(tb)
}
