package local

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

// component describes one child to start on n free loopback ports.
type component struct {
	name string
	// ports is how many free ports args needs.
	ports int
	// start launches the child on the given ports.
	start func(ports []int) (*procs.Process, error)
	// ready polls until the child serves; nil means "started is enough".
	ready func(ctx context.Context, ports []int) error
}

// launch starts c, retrying on other ports when a port was taken between probing and
// binding (several clusters start in parallel), and waits until it is ready.
func launch(ctx context.Context, c component, timeout time.Duration) (*procs.Process, []int, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports := make([]int, c.ports)
		for i := range ports {
			p, err := procs.FreePort()
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", c.name, err)
			}
			ports[i] = p
		}
		p, err := c.start(ports)
		if err != nil {
			return nil, nil, err
		}
		if c.ready == nil {
			return p, ports, nil
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		err = p.WaitReady(rctx, func(ctx context.Context) error { return c.ready(ctx, ports) })
		cancel()
		if err == nil {
			return p, ports, nil
		}
		_ = p.Stop(syscall.SIGTERM, time.Second)
		if !p.PortClash() {
			return nil, nil, err
		}
		lastErr = err
	}
	return nil, nil, fmt.Errorf("%s: no free ports after 3 attempts: %w", c.name, lastErr)
}
