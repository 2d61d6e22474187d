package dockerd

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/moby/moby/client"
)

// Client returns an API client of the engine, negotiating the API version (Debian's
// engine 20.10 speaks API 1.41).
func (e *Engine) Client() (*client.Client, error) {
	c, err := client.New(client.WithHost(e.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", e.Host, err)
	}
	return c, nil
}

// ryukImage is testcontainers' reaper image (its internal default).
const ryukImage = "testcontainers/ryuk:0.14.0"

// ConfigureTestcontainers sets the two testcontainers switches the stack needs, which
// testcontainers reads from the environment only, once per process (a value the user
// set is kept):
//   - the reaper (Ryuk) is off when its image is not in the engine (it cannot be pulled
//     without a registry); Close and SweepStale clean up then;
//   - the engine is the one docker talks to (DOCKER_HOST, when unset);
//   - the host of published ports is 127.0.0.1, where they are published, for a local
//     engine; left alone, testcontainers guesses a gateway address inside a container.
func ConfigureTestcontainers(ctx context.Context, docker *client.Client) error {
	host := docker.DaemonHost()
	// The same engine for testcontainers as for the images (it would otherwise look
	// at docker contexts and rootless sockets too).
	if _, set := os.LookupEnv("DOCKER_HOST"); !set && host != "" {
		if err := os.Setenv("DOCKER_HOST", host); err != nil {
			return err
		}
	}
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !set && strings.HasPrefix(host, "unix://") {
		if err := os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1"); err != nil {
			return err
		}
	}
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); set {
		return nil
	}
	if _, err := docker.ImageInspect(ctx, ryukImage); err == nil {
		return nil
	}
	return os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
}
