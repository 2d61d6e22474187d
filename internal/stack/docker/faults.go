package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/shakedown-dev/shakedown/internal/stack"
)

// Act takes one of stack.Actions: pause (freeze the container's processes), resume or
// kill (SIGKILL, then start the same container again, its data kept) ClickHouse or
// PostgreSQL, or stop (SIGTERM: it flushes) and start the worker.
func (s *Stack) Act(ctx context.Context, action string) error {
	name, verb, ok := strings.Cut(action, ":")
	known := false
	for _, a := range stack.Actions {
		known = known || a == action
	}
	if !ok || !known {
		return fmt.Errorf("action %q: want one of %s", action, strings.Join(stack.Actions, ", "))
	}
	id, err := s.containerID(name)
	if err != nil {
		return err
	}
	d := s.opts.Docker
	switch verb {
	case "pause":
		_, err = d.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	case "resume":
		_, err = d.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	case "kill":
		s.setStopped(name, true)
		if _, err = d.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"}); err == nil {
			err = s.startAgain(ctx, name, id)
		}
	case "stop":
		s.setStopped(name, true)
		timeout := 30
		_, err = d.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout})
	case "start":
		err = s.startAgain(ctx, name, id)
	}
	if err != nil {
		if verb == "kill" {
			s.setStopped(name, false) // watched again: a datastore that did not come back is a failure
		}
		return fmt.Errorf("%s: %w", action, err)
	}
	return nil
}

// startAgain starts a stopped container and waits until it runs (and, for the
// application components, answers /_readiness on its published port).
func (s *Stack) startAgain(ctx context.Context, name, id string) error {
	if _, err := s.opts.Docker.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return err
	}
	deadline := time.Now().Add(s.opts.StartTimeout)
	for time.Now().Before(deadline) {
		res, err := s.opts.Docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err == nil && res.Container.State != nil && res.Container.State.Running {
			if name != Worker && name != Capture && name != Decide {
				s.setStopped(name, false)
				return nil
			}
			// A restarted container gets a new published port unless it had a fixed one.
			if addr, err := s.published(ctx, name, "8000/tcp"); err == nil && ready(ctx, "http://"+addr+"/_readiness") {
				s.setStopped(name, false)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not come back within %s", name, s.opts.StartTimeout)
}

func ready(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *Stack) containerID(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[name]
	if c == nil {
		return "", fmt.Errorf("the stack has no %s container", name)
	}
	return c.GetContainerID(), nil
}

func (s *Stack) setStopped(name string, stopped bool) {
	s.mu.Lock()
	s.stopped[name] = stopped
	s.mu.Unlock()
}

// ControlHandler serves stack.ControlHandler for this stack's Act.
func (s *Stack) ControlHandler(token string) http.Handler { return stack.ControlHandler(s.Act, token) }

// Done is closed when a component stopped without being told to; Err says which.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Err is why Done was closed.
func (s *Stack) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// watch closes Done when a container that should run is not running.
func (s *Stack) watch(ctx context.Context) {
	defer s.monitor.Done()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	misses := map[string]int{} // consecutive checks a container was not seen running
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		ids := map[string]string{}
		for name, c := range s.containers {
			if !s.stopped[name] {
				ids[name] = c.GetContainerID()
			}
		}
		s.mu.Unlock()
		for name, id := range ids {
			res, err := s.opts.Docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if ctx.Err() != nil {
				return
			}
			if err == nil && res.Container.State != nil && res.Container.State.Running {
				misses[name] = 0
				continue
			}
			// One failed inspect (a busy engine) is no failure: three in a row are.
			if misses[name]++; misses[name] < 3 {
				continue
			}
			s.mu.Lock()
			if s.stopped[name] { // an action stopped it meanwhile
				s.mu.Unlock()
				continue
			}
			if err == nil && res.Container.State != nil {
				err = fmt.Errorf("exited with status %d", res.Container.State.ExitCode)
			}
			s.err = fmt.Errorf("the %s container stopped: %v%s", name, err, s.logTailLocked(ctx, id))
			s.mu.Unlock()
			close(s.done)
			return
		}
	}
}

// logTailLocked is logTail by container id.
func (s *Stack) logTailLocked(ctx context.Context, id string) string {
	for _, c := range s.containers {
		if c.GetContainerID() == id {
			return s.logTail(ctx, c)
		}
	}
	return ""
}

// Close stops capture first (no new events), then the worker (it flushes what it
// holds), then the datastores, and removes every container and the network.
func (s *Stack) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			s.monitor.Wait()
		}
		s.mu.Lock()
		containers := s.containers
		s.mu.Unlock()
		for _, name := range []string{Capture, Decide, Worker, Kafka, ClickHouse, Postgres} {
			c := containers[name]
			if c == nil {
				continue
			}
			// A paused container cannot be stopped: resume it first.
			_, _ = s.opts.Docker.ContainerUnpause(ctx, c.GetContainerID(), client.ContainerUnpauseOptions{})
			timeout := 30 * time.Second
			if terr := c.Terminate(ctx, testcontainers.StopTimeout(timeout)); terr != nil {
				err = errors.Join(err, fmt.Errorf("remove %s container: %w", name, terr))
			}
		}
		if s.network != nil {
			if nerr := s.network.Remove(ctx); nerr != nil {
				err = errors.Join(err, fmt.Errorf("remove the stack's network: %w", nerr))
			}
		}
	})
	return err
}
