package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/shakedown-dev/shakedown/internal/chconn"
	"github.com/shakedown-dev/shakedown/internal/dockerd"
	"github.com/shakedown-dev/shakedown/internal/images"
)

// engine returns a client of a Docker engine, starting dockerd when none answers and
// stopping it after the test if it was started here.
func engine(t *testing.T) *client.Client {
	t.Helper()
	e, err := dockerd.Ensure(context.Background(), dockerd.Options{Host: os.Getenv("DOCKER_HOST")})
	if err != nil {
		t.Fatalf("a Docker engine is needed (make deps installs Debian's docker.io): %v", err)
	}
	t.Cleanup(func() {
		if err := e.Release(); err != nil {
			t.Error(err)
		}
	})
	c, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendBatch posts n events (ids prefix-0..n-1) and fails unless capture acknowledges.
func sendBatch(t *testing.T, s *Stack, prefix string, n int) {
	t.Helper()
	batch := make([]map[string]any, n)
	for i := range batch {
		batch[i] = map[string]any{"event": "docker-test", "distinct_id": "p" + strconv.Itoa(i%7),
			"uuid": fmt.Sprintf("00000000-0000-4000-8000-%s%07d", prefix, i)}
	}
	body, _ := json.Marshal(map[string]any{"api_key": s.Endpoints.Token, "batch": batch})
	resp, err := http.Post(s.Endpoints.CaptureURL+"/batch", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("capture answered %s to a batch of %d", resp.Status, n)
	}
}

// waitStored waits until ClickHouse holds want distinct events, failing after limit.
func waitStored(t *testing.T, s *Stack, want uint64, limit time.Duration) {
	t.Helper()
	ctx := context.Background()
	var got uint64
	var lastErr error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		// A fresh connection each time: ClickHouse may be coming back from a kill.
		conn, err := chconn.Open(ctx, s.Endpoints.ClickHouseNative, s.Endpoints.ClickHouseUser, s.Endpoints.ClickHousePassword)
		if err != nil {
			lastErr = err
			continue
		}
		lastErr = conn.QueryRow(ctx, "SELECT uniqExact(uuid) FROM events").Scan(&got)
		conn.Close()
		if lastErr == nil && got == want {
			return
		}
	}
	t.Fatalf("ClickHouse holds %d distinct events after %s, want %d (last error: %v)", got, limit, want, lastErr)
}

// TestDockerStackStoresSurvivesFaultsAndCleansUp runs the stack in containers of the
// locally built images: events go in through capture's port on 127.0.0.1 and come out of
// ClickHouse; a paused and then a killed ClickHouse lose no acknowledged event, the
// published ports survive a restart, and Close leaves no container or network behind.
func TestDockerStackStoresSurvivesFaultsAndCleansUp(t *testing.T) {
	docker := engine(t)
	ctx := context.Background()
	s, err := Up(ctx, Options{Docker: docker, Listen: "127.0.0.1:0", Progress: func(step string) { t.Log(step) }})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = s.Close(ctx)
		}
	})
	sendBatch(t, s, "00000", 500)
	waitStored(t, s, 500, time.Minute)

	if err := s.Act(ctx, "clickhouse:pause"); err != nil {
		t.Fatal(err)
	}
	sendBatch(t, s, "00001", 300) // acknowledged while ClickHouse is frozen: Kafka holds them
	if err := s.Act(ctx, "clickhouse:resume"); err != nil {
		t.Fatal(err)
	}
	waitStored(t, s, 800, time.Minute)

	before := s.Endpoints.ClickHouseNative
	if err := s.Act(ctx, "clickhouse:kill"); err != nil {
		t.Fatal(err)
	}
	if after, err := s.published(ctx, ClickHouse, "9000/tcp"); err != nil || after != before {
		t.Fatalf("ClickHouse's published address moved from %s to %s (%v) after a restart", before, after, err)
	}
	sendBatch(t, s, "00002", 200)
	waitStored(t, s, 1000, 2*time.Minute)

	if err := s.Act(ctx, "worker:stop"); err != nil {
		t.Fatal(err)
	}
	sendBatch(t, s, "00003", 100)
	if err := s.Act(ctx, "worker:start"); err != nil {
		t.Fatal(err)
	}
	waitStored(t, s, 1100, time.Minute)
	select {
	case <-s.Done():
		t.Fatalf("the stack reports a failure after drills it was told of: %v", s.Err())
	default:
	}
	if err := s.Act(ctx, "kafka:kill"); err == nil {
		t.Error("an action outside stack.Actions was taken")
	}

	id := s.ID
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	left, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", StackLabel+"="+id)})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", StackLabel+"="+id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 0 || len(nets.Items) != 0 {
		t.Errorf("after Close, %d containers and %d networks of the stack remain", len(left.Items), len(nets.Items))
	}
}

// TestSweepStaleRemovesWhatADeadOwnerLeft: without Ryuk, containers of a killed run are
// removed by the next one, and those of a live owner are left alone.
func TestSweepStaleRemovesWhatADeadOwnerLeft(t *testing.T) {
	docker := engine(t)
	ctx := context.Background()
	if _, err := images.Ensure(ctx, images.Reference, images.Options{Docker: docker}); err != nil {
		t.Fatal(err)
	}
	if err := dockerd.ConfigureTestcontainers(ctx, docker); err != nil {
		t.Fatal(err)
	}
	start := func(owner, host string) *testcontainers.DockerContainer {
		c, err := testcontainers.Run(ctx, images.DefaultReferenceTag, testcontainers.WithCmd("kafka"),
			testcontainers.WithLogger(tclog.TestLogger(t)),
			testcontainers.WithLabels(map[string]string{StackLabel: "sweep-test", OwnerLabel: owner, HostLabel: host}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Terminate(context.Background()) })
		return c
	}
	dead := start("999999999", ownerHost())
	live := start(strconv.Itoa(os.Getpid()), ownerHost())
	// A pid that means nothing here: another machine or container shares the engine.
	elsewhere := start("999999999", "another-boot/4026531836")
	SweepStale(ctx, docker, nil)
	if _, err := docker.ContainerInspect(ctx, dead.GetContainerID(), client.ContainerInspectOptions{}); err == nil {
		t.Error("the container of a dead owner is still there")
	}
	for what, c := range map[string]*testcontainers.DockerContainer{"a live owner": live, "an owner elsewhere": elsewhere} {
		if _, err := docker.ContainerInspect(ctx, c.GetContainerID(), client.ContainerInspectOptions{}); err != nil {
			t.Errorf("the container of %s was removed: %v", what, err)
		}
	}
}
