package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/shakedown-dev/shakedown/internal/dockerd"
	"github.com/shakedown-dev/shakedown/internal/progress"
	"github.com/shakedown-dev/shakedown/internal/stack/docker"
)

// runDockerStackUp is `stack up --provider docker`: the stack in containers until
// interrupted, with the same stack.json and control endpoint as the local provider.
func runDockerStackUp(ctx context.Context, stdout, stderr io.Writer, f stackUpFlags, level slog.Level) error {
	if err := docker.CheckListen(f.listen); err != nil {
		return &exitError{code: exitUsage, msg: "--listen: " + err.Error()}
	}
	env := map[string]string{}
	if f.rate > 0 {
		env["CAPTURE_RATE_PER_TOKEN"] = strconv.FormatFloat(f.rate, 'f', -1, 64)
	}
	if f.burst > 0 {
		return &exitError{code: exitUsage, msg: "--rate-burst is for the local provider: the docker provider's capture takes CAPTURE_RATE_PER_TOKEN only (its burst is the rate)"}
	}
	if f.proxies != "" {
		env["TRUSTED_PROXIES"] = f.proxies
	}
	if f.origins != "" {
		env["CORS_ORIGINS"] = f.origins
	}
	progressOut := progress.New(stderr)
	started := time.Now()
	client, release, err := openEngine(ctx, stderr)
	if err != nil {
		return err
	}
	defer release()
	s, err := docker.Up(ctx, docker.Options{
		Docker:     client,
		Listen:     f.listen,
		Token:      f.token,
		CaptureEnv: env,
		Logger:     slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		Progress:   progressOut.Step,
	})
	if err != nil {
		progressOut.Fail()
		return err
	}
	progressOut.Done()
	defer func() {
		fmt.Fprintln(stderr, "stopping the stack and removing its containers ...")
		if err := s.Close(context.Background()); err != nil {
			fmt.Fprintln(stderr, "shakedown: stop:", err)
		}
	}()
	if f.state != "" {
		cleanup, err := publishState(stdout, f.state, &s.Endpoints, s.ControlHandler)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	printEndpoints(stdout, s.Endpoints, "kfake broker container, on the stack's network only", time.Since(started))
	fmt.Fprintf(stdout, "containers: shakedown-%s-{clickhouse,postgres,kafka,capture,worker,decide}\n", s.ID)
	select {
	case <-ctx.Done():
		return nil
	case <-s.Done():
		return &exitError{code: exitCheckFailed, msg: fmt.Sprintf("the stack failed: %v", s.Err())}
	}
}

// openEngine returns a client of the Docker engine (DOCKER_HOST or the default socket),
// starting dockerd when none answers; release closes the client and gives up the lease.
func openEngine(ctx context.Context, stderr io.Writer) (*mclient.Client, func(), error) {
	engine, err := dockerd.Ensure(ctx, dockerd.Options{Host: os.Getenv("DOCKER_HOST"), Log: stderr})
	if err != nil {
		return nil, nil, err
	}
	c, err := engine.Client()
	if err != nil {
		_ = engine.Release()
		return nil, nil, err
	}
	return c, func() {
		c.Close()
		if err := engine.Release(); err != nil {
			fmt.Fprintln(stderr, "shakedown:", err)
		}
	}, nil
}
