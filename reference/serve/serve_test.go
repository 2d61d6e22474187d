package serve

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/reference/teams"
)

func TestConfigFromEnvNamesWhatIsMissing(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cases := []struct {
		name      string
		vars      map[string]string
		component string
		want      string
	}{
		{"no component", map[string]string{}, "", "no component"},
		{"unknown component", map[string]string{}, "ingester", `unknown component "ingester"`},
		{"worker without clickhouse", map[string]string{"KAFKA_BROKERS": "k:9092", "POSTGRES_DSN": "postgres://x"}, "worker", "set CLICKHOUSE_ADDR"},
		{"capture without kafka", map[string]string{"POSTGRES_DSN": "postgres://x"}, "capture", "set KAFKA_BROKERS"},
		{"decide without postgres", map[string]string{"COMPONENT": "decide"}, "", "set POSTGRES_DSN"},
		{"bad MIGRATE", map[string]string{"COMPONENT": "decide", "POSTGRES_DSN": "x", "MIGRATE": "perhaps"}, "", "MIGRATE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ConfigFromEnv(env(c.vars), c.component)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	cfg, err := ConfigFromEnv(env(map[string]string{"KAFKA_BROKERS": "a:1, b:2", "POSTGRES_DSN": "x", "CLICKHOUSE_ADDR": "c:9000", "MIGRATE": "false"}), "worker")
	if err != nil || len(cfg.KafkaBrokers) != 2 || cfg.KafkaBrokers[1] != "b:2" || cfg.Migrate || cfg.ClickHouseDatabase != "default" {
		t.Fatalf("parsed %+v, %v", cfg, err)
	}
}

// The three components as separate servers, the way the chart runs them, against real
// ClickHouse and PostgreSQL and a Kafka-protocol broker without pre-made topics.
func TestComponentsServeAsSeparateProcessesWould(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, pg, kafka := startDependencies(t)

	ports := map[string]int{}
	done := map[string]chan error{}
	for _, comp := range []string{Decide, Worker, Capture} { // decide and worker migrate first
		port, err := procs.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[comp] = port
		cfg := Config{
			Component: comp, Listen: fmt.Sprintf("127.0.0.1:%d", port), KafkaBrokers: kafka.ListenAddrs(),
			TopicPartitions: 2, ClickHouseAddr: ch.NativeAddr, ClickHouseUser: ch.User, ClickHousePassword: ch.Password,
			ClickHouseDatabase: "default", PostgresDSN: pg.DSN, Migrate: true,
		}
		done[comp] = make(chan error, 1)
		go func() { done[comp] <- Run(ctx, cfg) }()
		waitReady(t, comp, port, done[comp])
	}

	pool, err := pgxpool.New(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	team, err := teams.NewStore(pool).Create(ctx, "serve", "phc_serve_test")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"api_key":"` + team.Token + `","batch":[{"event":"served","distinct_id":"u1","uuid":"0193a4b2-0000-7000-8000-000000000001"}]}`
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/batch/", ports[Capture]), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("capture answered %d", resp.StatusCode)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := ch.Query(ctx, "SELECT count() FROM default.events FINAL WHERE event = 'served' AND distinct_id = 'u1'")
		if err == nil && strings.TrimSpace(out) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event not in ClickHouse after 20 s (last: %q, %v)", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	cancel()
	for comp, ch := range done {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s ended with %v", comp, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20 s", comp)
		}
	}
}

func waitReady(t *testing.T, comp string, port int, done chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/_readiness", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("%s ended before it was ready: %v", comp, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30 s", comp)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A worker whose health listener cannot start must not run unseen: Run returns the
// listener's error, naming the address and the variable that sets it.
func TestWorkerStopsWhenItsHealthListenerCannotStart(t *testing.T) {
	ctx := context.Background()
	ch, pg, kafka := startDependencies(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Component: Worker, Listen: taken.Addr().String(), KafkaBrokers: kafka.ListenAddrs(),
			TopicPartitions: 1, ClickHouseAddr: ch.NativeAddr, ClickHouseUser: ch.User, ClickHousePassword: ch.Password, ClickHouseDatabase: "default",
			PostgresDSN: pg.DSN, Migrate: true})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) || !strings.Contains(err.Error(), "LISTEN_ADDR") {
			t.Fatalf("want the listener's error naming the address and LISTEN_ADDR, got %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker kept running without its health listener")
	}
}

// startDependencies starts a real ClickHouse and PostgreSQL and an in-process Kafka
// (without pre-made topics) for one test.
func startDependencies(t *testing.T) (*procs.ClickHouse, *procs.Postgres, *kfake.Cluster) {
	t.Helper()
	ctx := context.Background()
	ch, err := procs.StartClickHouse(ctx, procs.ClickHouseOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Stop() })
	pg, err := procs.StartPostgres(ctx, procs.PostgresOptions{Database: "serve"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	kafka, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kafka.Close)
	return ch, pg, kafka
}
