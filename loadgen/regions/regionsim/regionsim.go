// Package regionsim makes distant regions on one machine: the local reference stack
// behind one in-process toxiproxy per region, each adding a fixed latency, so a region
// benchmark can be seen working (and tested) without a second deployment.
//
// Where the latency goes: each proxy has one latency toxic on its downstream stream
// (server → client) holding every reply chunk for the region's latency. The round trip
// of a request therefore grows by exactly that amount: the request reaches the server
// undelayed and the reply comes back late. Connection set-up is not delayed, unlike a
// real distant region, whose TCP and TLS handshakes also pay the round trip.
package regionsim

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/loadgen/regions"
)

// Region is a simulated region: a name and the latency its proxy adds to each round trip.
type Region struct {
	Name    string
	Latency time.Duration
}

// ParseRegions parses "eu=20ms,us=80ms" (names and Go durations, comma-separated).
func ParseRegions(spec string) ([]Region, error) {
	var out []Region
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, lat, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("simulated region %q: want NAME=LATENCY, e.g. eu=20ms", part)
		}
		d, err := time.ParseDuration(strings.TrimSpace(lat))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("simulated region %s latency %q: want a non-negative duration such as 20ms", name, lat)
		}
		if d%time.Millisecond != 0 {
			return nil, fmt.Errorf("simulated region %s latency %s: toxiproxy delays in whole milliseconds, round it", name, d)
		}
		if seen[name] {
			return nil, fmt.Errorf("simulated region %q appears twice: give each region once", name)
		}
		seen[name] = true
		out = append(out, Region{Name: name, Latency: d})
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("simulated regions %q: give at least two, e.g. eu=20ms,us=80ms", spec)
	}
	return out, nil
}

// Proxies are running latency proxies, one per region, in front of one upstream.
type Proxies struct {
	// Targets are the proxies' base URLs, named after their regions, in order.
	Targets []regions.Target
	proxies []*toxiproxy.Proxy
}

// StartProxies starts one in-process toxiproxy per region on a free loopback port,
// forwarding to upstream (a base URL such as http://127.0.0.1:8010) with the region's
// latency added to every reply. Close stops them.
func StartProxies(upstream string, rs []Region) (_ *Proxies, err error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" || u.Scheme != "http" {
		return nil, fmt.Errorf("latency proxy upstream %q: want an http base URL such as http://127.0.0.1:8010", upstream)
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := &Proxies{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	for _, r := range rs {
		proxy := toxiproxy.NewProxy(server, r.Name, "127.0.0.1:0", u.Host)
		if err := proxy.Start(); err != nil {
			return nil, fmt.Errorf("start latency proxy for region %s: %w", r.Name, err)
		}
		p.proxies = append(p.proxies, proxy)
		toxic := fmt.Sprintf(`{"name":"region_latency","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":%d,"jitter":0}}`,
			r.Latency.Milliseconds())
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			return nil, fmt.Errorf("add %s latency toxic to the %s proxy: %w", r.Latency, r.Name, err)
		}
		base := *u
		base.Host = proxy.Listen // the actual address once started
		p.Targets = append(p.Targets, regions.Target{Name: r.Name, URL: strings.TrimRight(base.String(), "/")})
	}
	return p, nil
}

// Close stops every proxy and closes its connections.
func (p *Proxies) Close() {
	for _, proxy := range p.proxies {
		proxy.Stop()
	}
	p.proxies = nil
}

// Options configures Start.
type Options struct {
	// Regions to simulate; at least two.
	Regions []Region
	// Stack configures the local stack; its Listen defaults to "127.0.0.1:0" here.
	Stack local.Options
}

// Simulation is the local stack behind per-region latency proxies.
type Simulation struct {
	// Targets are the regions' base URLs, ready for regions.Options.Targets.
	Targets []regions.Target
	// Stack is the running local stack (its Endpoints.Token is the project token).
	Stack   *local.Stack
	proxies *Proxies
}

// Start brings the local stack up (local.Up) and puts a latency proxy per region in
// front of its capture API. Close tears both down.
func Start(ctx context.Context, opts Options) (_ *Simulation, err error) {
	if len(opts.Regions) < 2 {
		return nil, fmt.Errorf("simulate %d region(s): give at least two, e.g. eu=20ms,us=80ms", len(opts.Regions))
	}
	if opts.Stack.Listen == "" {
		opts.Stack.Listen = "127.0.0.1:0"
	}
	s := &Simulation{}
	defer func() {
		if err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
		}
	}()
	if s.Stack, err = local.Up(ctx, opts.Stack); err != nil {
		return nil, fmt.Errorf("simulate regions: start the local stack: %w", err)
	}
	if s.proxies, err = StartProxies(s.Stack.Endpoints.CaptureURL, opts.Regions); err != nil {
		return nil, err
	}
	s.Targets = s.proxies.Targets
	return s, nil
}

// Close stops the proxies, then the stack.
func (s *Simulation) Close(ctx context.Context) error {
	if s.proxies != nil {
		s.proxies.Close()
		s.proxies = nil
	}
	var err error
	if s.Stack != nil {
		if cerr := s.Stack.Close(ctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("stop the local stack: %w", cerr))
		}
		s.Stack = nil
	}
	return err
}
