// Package docker runs the reference stack in containers through testcontainers-go:
// ClickHouse, PostgreSQL, a Kafka broker, and capture, worker and decide from the
// reference image, on a network of their own. Only ports published on 127.0.0.1 reach
// them. It writes the same stack.Endpoints as the local provider, so e2e, load and the
// gate run against it unchanged.
//
// Images default to the ones `shakedown images build` makes from this repository and
// Debian's packages; Up builds those that are missing. Ryuk, testcontainers' reaper, is
// used only when its image is already present: otherwise Close removes everything,
// and the next Up removes what a killed run left (containers and networks carry the
// owner's process id in a label).
package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	mnetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/shakedown-dev/shakedown/internal/dockerd"
	"github.com/shakedown-dev/shakedown/internal/images"
	"github.com/shakedown-dev/shakedown/internal/procs"
	"github.com/shakedown-dev/shakedown/internal/stack"
	"github.com/shakedown-dev/shakedown/reference/schema"
	"github.com/shakedown-dev/shakedown/reference/teams"
)

// DefaultListen is where capture is published unless Options.Listen says otherwise.
const DefaultListen = "127.0.0.1:8010"

// Labels on every container and network of a stack.
const (
	StackLabel = "dev.shakedown.stack"
	OwnerLabel = "dev.shakedown.owner-pid"
	// HostLabel names the machine and process namespace of the owner, so an engine
	// shared with other machines or containers never sweeps their live stacks.
	HostLabel = "dev.shakedown.owner-host"
)

// ownerHost identifies where this process's ids mean something: the boot and the
// pid namespace.
func ownerHost() string {
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return strings.TrimSpace(string(boot)) + "/" + strings.Trim(strings.TrimPrefix(ns, "pid:"), "[]")
}

// Container names of the stack's components, also their names on its network.
const (
	ClickHouse = "clickhouse"
	Postgres   = "postgres"
	Kafka      = "kafka"
	Capture    = "capture"
	Worker     = "worker"
	Decide     = "decide"
)

// Options configures Up.
type Options struct {
	// Docker is a client of the engine (required); testcontainers reaches the same
	// engine through DOCKER_HOST or its default socket.
	Docker *client.Client
	// Listen is the loopback address capture is published on (default DefaultListen;
	// "127.0.0.1:0" picks a free port).
	Listen string
	// Token is the project token to create (default: a fresh random one).
	Token string
	// Partitions of the ingestion topic (default 4).
	Partitions int32
	// ReferenceImage, ClickHouseImage and PostgresImage default to the local images of
	// package images, built when missing. A named image must exist or be pullable.
	ReferenceImage, ClickHouseImage, PostgresImage string
	// KafkaImage runs the broker; default: the reference image's kfake broker
	// (`serve kafka`), since no Kafka image can be pulled on machines without a registry.
	KafkaImage string
	// CaptureEnv adds settings of capture and decide, in `shakedown serve`'s environment
	// (CAPTURE_RATE_PER_TOKEN, CORS_ORIGINS, TRUSTED_PROXIES, HTTP_*_TIMEOUT ...).
	CaptureEnv map[string]string
	// Logger receives the stack's own messages (default: discard).
	Logger *slog.Logger
	// Progress is told each start-up step as it begins (may be nil).
	Progress func(step string)
	// StartTimeout bounds each container's readiness wait (default 2 min).
	StartTimeout time.Duration
}

// Stack is a running containerised reference stack.
type Stack struct {
	// Endpoints are the stack's published addresses and its project token.
	Endpoints stack.Endpoints
	// ID names the stack in its containers' labels and names.
	ID string

	opts       Options
	network    *testcontainers.DockerNetwork
	mu         sync.Mutex
	containers map[string]*testcontainers.DockerContainer
	stopped    map[string]bool // components stopped on purpose (worker:stop)
	done       chan struct{}
	err        error
	closeOnce  sync.Once
	cancel     context.CancelFunc
	monitor    sync.WaitGroup
}

// Up starts the stack and returns once every component answers its readiness check
// and the schemas are migrated. On error everything already started is removed.
func Up(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Docker == nil {
		return nil, errors.New("docker stack: no Docker client")
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.Partitions == 0 {
		opts.Partitions = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	_, listenPort, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("docker stack: listen address %q: want 127.0.0.1:PORT: %w", opts.Listen, err)
	}
	if err := CheckListen(opts.Listen); err != nil {
		return nil, err
	}
	if opts.Token == "" {
		if opts.Token, err = teams.NewToken(); err != nil {
			return nil, err
		}
	}
	SweepStale(ctx, opts.Docker, opts.Logger)
	if err := dockerd.ConfigureTestcontainers(ctx, opts.Docker); err != nil {
		return nil, err
	}
	if err := ensureImages(ctx, &opts); err != nil {
		return nil, err
	}

	suffix, err := procs.NewPassword()
	if err != nil {
		return nil, err
	}
	s := &Stack{ID: suffix[:8], opts: opts, containers: map[string]*testcontainers.DockerContainer{},
		stopped: map[string]bool{}, done: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
		}
	}()
	labels := map[string]string{StackLabel: s.ID, OwnerLabel: strconv.Itoa(os.Getpid()), HostLabel: ownerHost()}
	opts.Progress("creating the stack's network")
	if s.network, err = network.New(ctx, network.WithLabels(labels)); err != nil {
		return nil, fmt.Errorf("docker stack: create network: %w", err)
	}

	pw := map[string]string{}
	for _, k := range []string{"clickhouse", "reader", "postgres", "app"} {
		if pw[k], err = procs.NewPassword(); err != nil {
			return nil, err
		}
	}
	const chAdmin, chReader, pgApp, pgDB = procs.ClickHouseAppUser, procs.ClickHouseReaderUser, "shakedown", "shakedown"

	opts.Progress("starting clickhouse, postgres and kafka containers")
	errs := make(chan error, 3)
	go func() {
		errs <- s.run(ctx, ClickHouse, opts.ClickHouseImage, labels, nil, map[string]string{
			"CLICKHOUSE_USER": chAdmin, "CLICKHOUSE_PASSWORD": pw["clickhouse"],
			"CLICKHOUSE_READER_USER": chReader, "CLICKHOUSE_READER_PASSWORD": pw["reader"],
		}, []string{"9000/tcp", "8123/tcp"}, "", wait.ForHTTP("/ping").WithPort("8123/tcp"))
	}()
	go func() {
		errs <- s.run(ctx, Postgres, opts.PostgresImage, labels, nil, map[string]string{"POSTGRES_PASSWORD": pw["postgres"]},
			[]string{"5432/tcp"}, "", wait.ForAll(
				// A port published through docker-proxy accepts before the server does.
				wait.ForLog("database system is ready to accept connections"), wait.ForListeningPort("5432/tcp")))
	}()
	go func() {
		var cmd []string
		env := map[string]string{}
		if opts.KafkaImage == opts.ReferenceImage {
			cmd = []string{"kafka"}
			env = map[string]string{"KAFKA_ADVERTISED_ADDR": Kafka + ":9092", "KAFKA_TOPIC_PARTITIONS": strconv.Itoa(int(opts.Partitions)),
				"KAFKA_DATA_DIR": "/var/lib/shakedown/kafka"}
		}
		var ready wait.Strategy = wait.ForListeningPort("9092/tcp")
		if len(cmd) > 0 {
			ready = wait.ForAll(wait.ForLog("kafka (kfake) serving"), ready)
		}
		errs <- s.run(ctx, Kafka, opts.KafkaImage, labels, cmd, env, []string{"9092/tcp"}, "", ready)
	}()
	var startErr error
	for range 3 {
		startErr = errors.Join(startErr, <-errs)
	}
	if startErr != nil {
		return nil, startErr
	}

	opts.Progress("migrating clickhouse and postgres schemas, creating the project token")
	chNative, err := s.published(ctx, ClickHouse, "9000/tcp")
	if err != nil {
		return nil, err
	}
	chHTTP, err := s.published(ctx, ClickHouse, "8123/tcp")
	if err != nil {
		return nil, err
	}
	pgAddr, err := s.published(ctx, Postgres, "5432/tcp")
	if err != nil {
		return nil, err
	}
	if err := migrateClickHouse(ctx, chNative, chAdmin, pw["clickhouse"]); err != nil {
		return nil, err
	}
	if err := setUpPostgres(ctx, "postgres://postgres:"+pw["postgres"]+"@"+pgAddr+"/postgres?sslmode=disable", pgApp, pw["app"], pgDB); err != nil {
		return nil, err
	}
	hostDSN := "postgres://" + pgApp + ":" + pw["app"] + "@" + pgAddr + "/" + pgDB + "?sslmode=disable"
	token, err := migratePostgres(ctx, hostDSN, opts.Token)
	if err != nil {
		return nil, err
	}

	opts.Progress("starting capture, worker and decide containers")
	inNetDSN := "postgres://" + pgApp + ":" + pw["app"] + "@" + Postgres + ":5432/" + pgDB + "?sslmode=disable"
	appEnv := func(extra map[string]string) map[string]string {
		// Flags configured by a test reach capture within 5 s, as on the local stack.
		env := map[string]string{"KAFKA_BROKERS": Kafka + ":9092", "POSTGRES_DSN": inNetDSN, "MIGRATE": "false", "DECIDE_REFRESH_INTERVAL": "5s",
			"KAFKA_TOPIC_PARTITIONS": strconv.Itoa(int(opts.Partitions))}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	ready := wait.ForHTTP("/_readiness").WithPort("8000/tcp")
	go func() {
		errs <- s.run(ctx, Worker, opts.ReferenceImage, labels, []string{"worker"}, appEnv(map[string]string{
			"CLICKHOUSE_ADDR": ClickHouse + ":9000", "CLICKHOUSE_USER": chAdmin, "CLICKHOUSE_PASSWORD": pw["clickhouse"],
		}), []string{"8000/tcp"}, "", ready)
	}()
	go func() {
		errs <- s.run(ctx, Capture, opts.ReferenceImage, labels, []string{"capture"}, appEnv(opts.CaptureEnv),
			[]string{"8000/tcp"}, listenPort, ready)
	}()
	go func() {
		errs <- s.run(ctx, Decide, opts.ReferenceImage, labels, []string{"decide"}, appEnv(opts.CaptureEnv), []string{"8000/tcp"}, "", ready)
	}()
	for range 3 {
		startErr = errors.Join(startErr, <-errs)
	}
	if startErr != nil {
		return nil, startErr
	}
	captureAddr, err := s.published(ctx, Capture, "8000/tcp")
	if err != nil {
		return nil, err
	}
	s.Endpoints = stack.Endpoints{
		CaptureURL:       "http://" + captureAddr,
		ClickHouseNative: chNative,
		ClickHouseHTTP:   "http://" + chHTTP,
		// Handed out (stack.json): the read-only user; the worker keeps the writer.
		ClickHouseUser:     chReader,
		ClickHousePassword: pw["reader"],
		PostgresDSN:        hostDSN,
		// The broker is reachable on the stack's network only (it advertises that name).
		KafkaBrokers: []string{Kafka + ":9092"},
		Token:        token,
	}
	monCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.monitor.Add(1)
	go s.watch(monCtx)
	return s, nil
}

// CheckListen refuses a capture address that is not host:port on 127.0.0.1 (where every
// port of the stack is published).
func CheckListen(listen string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("docker stack: listen address %q: want 127.0.0.1:PORT: %w", listen, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || ip != netip.MustParseAddr("127.0.0.1") {
		return fmt.Errorf("docker stack: listen address %q: containers are published on 127.0.0.1 only: use 127.0.0.1:%s", listen, port)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("docker stack: listen address %q: port %q is not a port number", listen, port)
	}
	return nil
}

// ensureImages fills in the default images, building the local ones that are missing.
func ensureImages(ctx context.Context, opts *Options) error {
	for _, im := range []struct {
		name string
		ref  *string
	}{{images.Reference, &opts.ReferenceImage}, {images.ClickHouse, &opts.ClickHouseImage}, {images.Postgres, &opts.PostgresImage}} {
		if *im.ref != "" {
			continue
		}
		*im.ref = images.DefaultTag(im.name)
		iopts := images.Options{Docker: opts.Docker, Step: opts.Progress}
		if im.name == images.Reference {
			// Built from this source tree when there is one, so the stack runs the
			// code beside it; elsewhere the image built earlier is used.
			src, err := images.FindSourceDir(".")
			if err != nil {
				if _, ierr := opts.Docker.ImageInspect(ctx, *im.ref); ierr == nil {
					continue
				}
				return fmt.Errorf("docker stack: no %s image: %w", *im.ref, err)
			}
			iopts.SourceDir = src
		}
		if _, err := images.Ensure(ctx, im.name, iopts); err != nil {
			return fmt.Errorf("docker stack: %w", err)
		}
	}
	if opts.KafkaImage == "" {
		opts.KafkaImage = opts.ReferenceImage
	}
	return nil
}

// run starts one component on the stack's network, publishing ports on 127.0.0.1
// (hostPort for the first one, "" for any), and waits for it to be ready.
func (s *Stack) run(ctx context.Context, name, image string, labels map[string]string, cmd []string, env map[string]string,
	ports []string, hostPort string, ready wait.Strategy) error {
	// Host ports are chosen here, not by the engine: an engine-chosen port changes when
	// a container is started again (fault drills kill and restart), and stack.json
	// would then point at nothing.
	bindings := mnetwork.PortMap{}
	for i, p := range ports {
		port, err := mnetwork.ParsePort(p)
		if err != nil {
			return fmt.Errorf("docker stack: %s port %q: %w", name, p, err)
		}
		host := ""
		if i == 0 {
			host = hostPort
		}
		if host == "" || host == "0" {
			free, err := procs.FreePort()
			if err != nil {
				return fmt.Errorf("docker stack: a free port for %s: %w", name, err)
			}
			host = strconv.Itoa(free)
		}
		bindings[port] = []mnetwork.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: host}}
	}
	customize := []testcontainers.ContainerCustomizer{
		network.WithNetwork([]string{name}, s.network),
		testcontainers.WithName("shakedown-" + s.ID + "-" + name),
		testcontainers.WithLabels(labels),
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts(ports...),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = bindings
		}),
		testcontainers.WithWaitStrategyAndDeadline(s.opts.StartTimeout, ready),
		testcontainers.WithLogger(tclog.NewNoopLogger()),
	}
	if len(cmd) > 0 {
		customize = append(customize, testcontainers.WithCmd(cmd...))
	}
	c, err := testcontainers.Run(ctx, image, customize...)
	if c != nil {
		s.mu.Lock()
		s.containers[name] = c
		s.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("docker stack: %s (%s) did not start: %w%s", name, image, err, s.logTail(ctx, c))
	}
	return nil
}

// logTail returns the end of a container's log, for errors.
func (s *Stack) logTail(ctx context.Context, c *testcontainers.DockerContainer) string {
	if c == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	res, err := s.opts.Docker.ContainerLogs(ctx, c.GetContainerID(), client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
	if err != nil {
		return ""
	}
	defer res.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, io.LimitReader(res, 64<<10))
	return "; its log ends:\n" + strings.TrimRight(out.String(), "\n")
}

// published returns the 127.0.0.1 host:port a component's port is published on.
func (s *Stack) published(ctx context.Context, name, port string) (string, error) {
	s.mu.Lock()
	c := s.containers[name]
	s.mu.Unlock()
	if c == nil {
		return "", fmt.Errorf("docker stack: no %s container", name)
	}
	p, err := c.MappedPort(ctx, port)
	if err != nil {
		return "", fmt.Errorf("docker stack: published port of %s %s: %w", name, port, err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p.Num()))), nil
}

func migrateClickHouse(ctx context.Context, addr, user, password string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Username: user, Password: password},
		DialTimeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("docker stack: connect to clickhouse %s: %w", addr, err)
	}
	defer conn.Close()
	if err := pingUntil(ctx, conn, 30*time.Second); err != nil {
		return fmt.Errorf("docker stack: clickhouse %s: %w", addr, err)
	}
	return schema.ApplyClickHouse(ctx, conn, "default")
}

func pingUntil(ctx context.Context, conn driver.Conn, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := conn.Ping(ctx)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// setUpPostgres makes the application's least-privilege role and its database.
func setUpPostgres(ctx context.Context, adminDSN, role, password, database string) error {
	var conn *pgx.Conn
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if conn, err = pgx.Connect(ctx, adminDSN); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("docker stack: connect to postgres as its superuser: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return procs.SetUpAppRole(ctx, conn, role, password, database)
}

// migratePostgres migrates as the application role and creates the project.
func migratePostgres(ctx context.Context, dsn, token string) (string, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("docker stack: connect to postgres: %w", err)
	}
	defer pool.Close()
	if err := schema.ApplyPostgres(ctx, pool); err != nil {
		return "", err
	}
	team, err := teams.NewStore(pool).Create(ctx, "shakedown", token)
	if err != nil {
		return "", err
	}
	return team.Token, nil
}

// SweepStale removes the containers and networks of stacks whose owner process is gone
// (a killed `stack up` or test), so they do not pile up without Ryuk.
func SweepStale(ctx context.Context, docker *client.Client, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	list, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", StackLabel)})
	if err != nil {
		return
	}
	here := ownerHost()
	for _, c := range list.Items {
		if c.Labels[HostLabel] != here || ownerAlive(c.Labels[OwnerLabel]) {
			continue
		}
		log.Info("removing a container of a stack whose owner is gone", "container", c.ID[:12], "stack", c.Labels[StackLabel])
		_, _ = docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	nets, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", StackLabel)})
	if err != nil {
		return
	}
	for _, n := range nets.Items {
		if n.Labels[HostLabel] == here && !ownerAlive(n.Labels[OwnerLabel]) {
			_, _ = docker.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
	}
}

func ownerAlive(pidLabel string) bool {
	pid, err := strconv.Atoi(pidLabel)
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM) // EPERM: alive, another user's
}
