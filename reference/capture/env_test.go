package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shakedown-dev/shakedown/reference/event"
)

// Tokens the test environment knows.
const (
	tokenA = "phc_project_a"
	tokenB = "phc_project_b"
)

// fixedNow is the clock every test server runs on.
var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// env is a capture Server producing into an in-process kfake cluster, and a
// consumer reading back everything produced.
type env struct {
	t       testing.TB
	cluster *kfake.Cluster
	client  *kgo.Client
	srv     *Server
	reg     *prometheus.Registry

	mu   sync.Mutex
	seen []consumed
}

type consumed struct {
	key string
	msg event.Message
}

func newEnv(t testing.TB, configure func(*Config), clientOpts ...kgo.Opt) *env {
	t.Helper()
	return newEnvBrokers(t, 1, configure, clientOpts...)
}

// newEnvBrokers is newEnv on a cluster of that many brokers (the topic's three
// partitions are spread over them).
func newEnvBrokers(t testing.TB, brokers int, configure func(*Config), clientOpts ...kgo.Opt) *env {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(3, event.IngestionTopic))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	opts := append(ProducerOptions(cluster.ListenAddrs()...), clientOpts...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(client.Close)
	reg := prometheus.NewRegistry()
	cfg := Config{
		MaxEventBody: 64 << 10,
		MaxBatchBody: 256 << 10,
		Tokens:       NewStaticTokens(tokenA, tokenB),
		Registerer:   reg,
		Now:          func() time.Time { return fixedNow },
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(client, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, cluster: cluster, client: client, srv: srv, reg: reg}
}

// startConsumer reads the topic from the start into e.seen until the test ends.
func (e *env) startConsumer() {
	e.t.Helper()
	c, err := kgo.NewClient(
		kgo.SeedBrokers(e.cluster.ListenAddrs()...),
		kgo.ConsumeTopics(event.IngestionTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond),
	)
	if err != nil {
		e.t.Fatalf("consumer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.t.Cleanup(func() { cancel(); <-done; c.Close() })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := c.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				m, err := event.Decode(r.Value)
				if err != nil {
					e.t.Errorf("capture produced an undecodable message %q: %v", r.Value, err)
					return
				}
				e.mu.Lock()
				e.seen = append(e.seen, consumed{key: string(r.Key), msg: m})
				e.mu.Unlock()
			})
		}
	}()
}

// waitFor waits until every distinct id has a message and returns them by id.
func (e *env) waitFor(ids ...string) map[string]consumed {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string]consumed{}
		e.mu.Lock()
		for _, c := range e.seen {
			got[c.msg.DistinctID] = c
		}
		e.mu.Unlock()
		var missing []string
		for _, id := range ids {
			if _, ok := got[id]; !ok {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("events never reached Kafka for distinct ids %q", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// all returns a copy of every message consumed so far.
func (e *env) all() []consumed {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]consumed(nil), e.seen...)
}

// do serves one request and returns the recorded response.
func (e *env) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

func newRequest(method, target, contentType string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.RemoteAddr = "192.0.2.7:51234"
	return r
}

// post sends a JSON body to path.
func (e *env) post(path, body string) *httptest.ResponseRecorder {
	return e.do(newRequest(http.MethodPost, path, "application/json", []byte(body)))
}

// ev renders one event as JSON; extra fields are merged at the top level.
func ev(name, distinctID, token string, extra map[string]any) string {
	m := map[string]any{"event": name, "properties": map[string]any{"$lib": "test"}}
	if distinctID != "" {
		m["distinct_id"] = distinctID
	}
	if token != "" {
		m["api_key"] = token
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// errorReply is the body of every non-2xx capture reply.
type errorReply struct {
	Type   string `json:"type"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func decodeError(t testing.TB, w *httptest.ResponseRecorder) errorReply {
	t.Helper()
	var e errorReply
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error reply %q is not JSON: %v", w.Body.String(), err)
	}
	if e.Type == "" || e.Code == "" || e.Detail == "" {
		t.Fatalf("error reply %q lacks type, code or detail", w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error reply Content-Type = %q", ct)
	}
	return e
}

func expectOK(t testing.TB, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, body %s; want 200", w.Code, w.Body)
	}
	if got := strings.TrimSpace(w.Body.String()); got != `{"status":1}` {
		t.Fatalf("body %s, want {\"status\":1}", got)
	}
}

func httptestServer(t testing.TB, h http.Handler) string {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}
