// Package sdk is the SDK conformance layer: it drives the real PostHog SDKs
// (posthog-go compiled in; posthog-node and posthog-js installed with npm into
// a cache on first use, posthog-js in headless Chromium) against any
// deployment of the reference stack, then checks what the deployment stored
// and answered: every event an SDK delivered stored exactly once, merged
// persons resolving to one person, group properties stored, and every flag
// the run configured evaluated as configured, in each SDK.
package sdk

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Run drives every SDK of opts in turn and returns what was checked. An error
// means the run could not start (bad options, an unusable database); an SDK
// that could not be driven is reported in its result, and the others still run.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("%w: no cache directory for npm packages (set HOME or pass one): %v", ErrInvalidOptions, err)
		}
		opts.CacheDir = filepath.Join(base, "shakedown", "npm")
	}
	res := &Result{Target: opts.Target}
	var proj *project
	if opts.Postgres != nil {
		opts.progress("configuring the run's flags in PostgreSQL")
		var err error
		if proj, err = configureFlags(ctx, opts.Postgres, opts.Token); err != nil {
			return nil, err
		}
		opts.progress("waiting until " + opts.Target + " serves them")
		if err := waitFlagsServed(ctx, http.DefaultClient, opts.Target, opts.Token, opts.Wait); err != nil {
			return nil, err
		}
	}
	for _, spec := range opts.SDKs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		start := time.Now()
		r := SDKResult{SDK: spec.String()}
		c := &checker{opts: &opts, proj: proj, res: &r, run: strings.SplitN(uuid.NewString(), "-", 2)[0], start: start}
		switch spec.Name {
		case JS:
			c.runBrowser(ctx, spec)
		default:
			c.runServer(ctx, spec)
		}
		r.Duration = time.Since(start)
		res.SDKs = append(res.SDKs, r)
	}
	return res, ctx.Err()
}

// sent is what a server SDK delivered.
type sent struct {
	UUIDs  []string
	Errors []string // errors the SDK reported while delivering
}

// serverDriver is a server-side SDK: it sends a plan, then answers flag queries.
type serverDriver interface {
	send(ctx context.Context, p plan) (sent, error)
	flags(ctx context.Context, queries []flagQuery) (map[string]any, []string, error)
}

// checker runs one SDK and records its checks.
type checker struct {
	opts  *Options
	proj  *project
	res   *SDKResult
	run   string // short id unique to this SDK's run, in every distinct id it uses
	start time.Time
}

// runServer drives posthog-go or posthog-node.
func (c *checker) runServer(ctx context.Context, spec Spec) {
	var d serverDriver = goDriver{target: c.opts.Target, token: c.opts.Token}
	if spec.Name == Node || spec.Name == NodeV1 {
		c.opts.progress("installing posthog-node@" + spec.Version + " (cached after the first run)")
		dir, err := npmInstall(ctx, c.opts.CacheDir, "posthog-node@"+spec.Version)
		if err != nil {
			c.res.errored("install", err)
			return
		}
		d = nodeDriver{dir: dir, target: c.opts.Target, token: c.opts.Token, captureV1: spec.Name == NodeV1}
	}
	p := newPlan(c.run, c.opts.Events)
	c.opts.progress(fmt.Sprintf("%s: sending %d captures, alias, identify and group identify", spec, p.Events+2*anonEvents+1))
	s, err := d.send(ctx, p)
	c.res.Sent = len(s.UUIDs)
	if err != nil {
		c.res.errored("send", err)
		return
	}
	c.res.add("delivered without errors", len(s.Errors) == 0, "%s", orNone(s.Errors))
	c.opts.progress(fmt.Sprintf("%s: waiting for %d events in ClickHouse", spec, len(s.UUIDs)))
	if !c.checkStored(ctx, s.UUIDs) {
		return
	}
	c.checkSpecialEvents(ctx, p)
	if len(s.UUIDs) < p.Events+2*anonEvents {
		c.res.add("SDK sent every capture", false, "%d captures, want %d", len(s.UUIDs), p.Events+2*anonEvents+1)
		return
	}
	anon, user := s.UUIDs[p.Events:p.Events+anonEvents], s.UUIDs[p.Events+anonEvents:p.Events+2*anonEvents]
	c.checkOnePerson(ctx, "alias merged persons", anon, user)
	c.checkGroupColumns(ctx, s.UUIDs[:p.Events], p.Company)
	if c.proj == nil {
		c.res.notRun("persons and groups in PostgreSQL", "no PostgreSQL given (--postgres): stored persons and groups were not read")
		c.res.notRun("flags", "no PostgreSQL given (--postgres): the run cannot configure the flags it checks")
		return
	}
	c.checkPostgres(ctx, p)
	c.opts.progress(fmt.Sprintf("%s: asking %d flag questions", spec, len(p.flagQueries())))
	answers, errs, err := d.flags(ctx, p.flagQueries())
	if err != nil {
		c.res.errored("flags", err)
		return
	}
	c.res.Flags = answers
	c.res.add("flags without errors", len(errs) == 0, "%s", orNone(errs))
	for _, q := range p.flagQueries() {
		got := answers[q.Name]
		c.res.add("flag: "+q.Name, sameAnswer(got, q.Want), "%s got %s, want %s", flagLabel(q), show(got), show(q.Want))
	}
}

// runBrowser drives posthog-js in Chromium.
func (c *checker) runBrowser(ctx context.Context, spec Spec) {
	chromium, err := findChromium(c.opts.Chromium)
	if err != nil {
		c.res.errored("chromium", err)
		return
	}
	c.opts.progress("installing posthog-js@" + spec.Version + " and puppeteer-core (cached after the first run)")
	dir, err := npmInstall(ctx, c.opts.CacheDir, "posthog-js@"+spec.Version, "puppeteer-core@"+PuppeteerCoreVersion)
	if err != nil {
		c.res.errored("install", err)
		return
	}
	in := browserInput{Run: c.run, User: "sd-" + c.run + "-js-user", Company: "acme-" + c.run,
		Events: min(c.opts.Events, jsMaxEvents), BeaconEvents: jsBeaconEvents, PlainEvents: jsPlainEvents, Flags: c.proj != nil}
	c.opts.progress(fmt.Sprintf("%s: two pages in %s (gzip with beacon on unload, then compression off)", spec, filepath.Base(chromium)))
	a, err := runBrowser(ctx, dir, chromium, c.opts.Target, c.opts.Token, in)
	if err != nil {
		c.res.errored("browser", err)
		return
	}
	c.checkBrowser(ctx, a, in)
}

func orNone(errs []string) string {
	if len(errs) == 0 {
		return "none"
	}
	if len(errs) > 5 {
		return strings.Join(errs[:5], "; ") + fmt.Sprintf("; and %d more", len(errs)-5)
	}
	return strings.Join(errs, "; ")
}

func flagLabel(q flagQuery) string {
	if q.All {
		return "all flags"
	}
	return q.Key
}
