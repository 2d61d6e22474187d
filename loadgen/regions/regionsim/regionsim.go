// Package regionsim makes distant regions on one machine: the local reference stack
// behind one in-process toxiproxy per region, each adding a latency (with optional
// jitter) and optionally losing a share of requests, so a region benchmark can be seen
// working (and tested) without a second deployment.
//
// Where the latency goes: each proxy has one latency toxic on its downstream stream
// (server → client) holding every reply chunk for the region's latency, plus or minus
// a uniform jitter (toxiproxy draws it per chunk). The round trip of a request
// therefore grows by that amount: the request reaches the server undelayed and the
// reply comes back late. Connection set-up is not delayed, unlike a real distant
// region, whose TCP and TLS handshakes also pay the round trip.
//
// Where the loss goes: a region with a loss share gets a loss toxic on its upstream
// stream (client → server). Each chunk the client sends — one per request for the
// bodies the benchmark sends, which fit in one read — is dropped with that probability,
// and the connection is closed: the request never reaches the server, and the client
// sees the connection end without a reply (an EOF error). Go's HTTP client retries an
// idempotent request (GET) that met a closed reused connection, so GET requests are
// lost less often than the share says.
package regionsim

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/shakedown-dev/shakedown/internal/stack/local"
	"github.com/shakedown-dev/shakedown/loadgen/regions"
)

// Region is a simulated region: a name, the latency its proxy adds to each round
// trip, and optionally jitter and loss.
type Region struct {
	Name    string
	Latency time.Duration
	// Jitter spreads the latency uniformly over Latency ± Jitter (at most Latency).
	Jitter time.Duration
	// Loss is the share (0..1) of requests dropped, their connection closed.
	Loss float64
}

// String writes r the way ParseRegions reads it, e.g. "eu=20ms±5ms/1%".
func (r Region) String() string {
	s := r.Name + "=" + r.Latency.String()
	if r.Jitter > 0 {
		s += "±" + r.Jitter.String()
	}
	if r.Loss > 0 {
		s += "/" + strconv.FormatFloat(r.Loss*100, 'g', -1, 64) + "%"
	}
	return s
}

// ParseRegions parses comma-separated regions, each NAME=LATENCY[±JITTER][/LOSS%]:
// Go durations in whole milliseconds, "+-" may stand for "±", and LOSS is a
// percentage, e.g. "eu=20ms,us=80ms" or "eu=20ms±5ms,us=80ms±10ms/1%".
func ParseRegions(spec string) ([]Region, error) {
	var out []Region
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, rest, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("simulated region %q: want NAME=LATENCY[±JITTER][/LOSS%%], e.g. eu=20ms or eu=20ms±5ms/1%%", part)
		}
		r := Region{Name: name}
		if lat, loss, ok := strings.Cut(rest, "/"); ok {
			rest = lat
			p, isPct := strings.CutSuffix(strings.TrimSpace(loss), "%")
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if !isPct || err != nil || !(v >= 0 && v < 100) {
				return nil, fmt.Errorf("simulated region %s loss %q: want a percentage below 100%%, e.g. /1%%", name, loss)
			}
			r.Loss = v / 100
		}
		lat, jit, hasJitter := strings.Cut(strings.ReplaceAll(rest, "+-", "±"), "±")
		var err error
		if r.Latency, err = parseMillis(name, "latency", lat); err != nil {
			return nil, err
		}
		if hasJitter {
			if r.Jitter, err = parseMillis(name, "jitter", jit); err != nil {
				return nil, err
			}
			if r.Jitter > r.Latency {
				return nil, fmt.Errorf("simulated region %s: jitter %s exceeds the latency %s (a delay cannot be negative): lower the jitter", name, r.Jitter, r.Latency)
			}
		}
		if seen[name] {
			return nil, fmt.Errorf("simulated region %q appears twice: give each region once", name)
		}
		seen[name] = true
		out = append(out, r)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("simulated regions %q: give at least two, e.g. eu=20ms,us=80ms", spec)
	}
	return out, nil
}

func parseMillis(region, what, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("simulated region %s %s %q: want a non-negative duration such as 20ms", region, what, s)
	}
	if d%time.Millisecond != 0 {
		return 0, fmt.Errorf("simulated region %s %s %s: toxiproxy delays in whole milliseconds, round it", region, what, d)
	}
	return d, nil
}

// Proxies are running latency proxies, one per region, in front of one upstream.
type Proxies struct {
	// Targets are the proxies' base URLs, named after their regions, in order.
	Targets []regions.Target
	proxies []*toxiproxy.Proxy
}

// StartProxies starts one in-process toxiproxy per region on a free loopback port,
// forwarding to upstream (a base URL such as http://127.0.0.1:8010) with the region's
// latency (± jitter) added to every reply and its share of requests lost. Close stops
// them.
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
		toxic := fmt.Sprintf(`{"name":"region_latency","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":%d,"jitter":%d}}`,
			r.Latency.Milliseconds(), r.Jitter.Milliseconds())
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			return nil, fmt.Errorf("add %s±%s latency toxic to the %s proxy: %w", r.Latency, r.Jitter, r.Name, err)
		}
		if r.Loss > 0 {
			toxic := fmt.Sprintf(`{"name":"region_loss","type":%q,"stream":"upstream","toxicity":1,"attributes":{"probability":%g}}`, lossToxicType, r.Loss)
			if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
				return nil, fmt.Errorf("add %g%% loss toxic to the %s proxy: %w", r.Loss*100, r.Name, err)
			}
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
