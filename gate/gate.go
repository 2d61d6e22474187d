// Package gate gives one verdict for a release: it runs stages (smoke, e2e,
// load) against a deployment and gathers their checks in one result.Report,
// which opens with the verdict and the first failing stage with its
// evidence. What each stage holds the release to comes from a gate file
// (Config); Run is the library entry point `shakedown gate` maps its flags to.
package gate

import (
	"context"
	"crypto/x509"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shakedown-dev/shakedown/internal/chconn"
	"github.com/shakedown-dev/shakedown/result"
)

// Target is the deployment under the gate.
type Target struct {
	// CaptureURL is the capture API's base URL; Token a project API token.
	CaptureURL, Token string
	// ClickHouse is the native address (host:port) of the store the events
	// land in, with User, Password and Database (default "default").
	ClickHouse, User, Password, Database string
	// ControlURL and ControlToken take fault actions on the deployment (see
	// stack.Endpoints); without them the faults stage is skipped.
	ControlURL, ControlToken string
	// Postgres is the deployment's PostgreSQL DSN: the SDK checks configure
	// flags there and check persons (without it, flag checks do not run).
	Postgres string
}

// Options configure Run.
type Options struct {
	// Target is the deployment; Chart the Helm chart (directory or .tgz) of
	// the release. At least one is required: without a deployment only the
	// chart stage runs, without a chart it is skipped.
	Target Target
	Chart  string
	// Cluster, when set, is where the chart is installed as a release (the
	// install stage, before smoke) and where go-live looks for its backups.
	Cluster *Cluster
	// UnitWorker starts a worker process for the chart's unit suites (see
	// unit.Options.Worker); nil runs them in this process.
	UnitWorker func(ctx context.Context) *exec.Cmd
	// Config is the gate file's content (DefaultConfig when zero).
	Config Config
	// Seed makes the e2e events and the load traffic repeatable (default:
	// from the clock; recorded in the report).
	Seed uint64
	// Baseline, when set, is an earlier gate's report: the load stage fails
	// on a regression beyond the gate file's margin.
	Baseline *result.Report
	// Progress, when set, is told each step as it starts.
	Progress func(stage, step string)
	// TLSRoots verifies https targets' certificates (nil: the system's roots).
	TLSRoots *x509.CertPool
	// Meta is copied into the report (command line, gate file).
	Meta map[string]string
}

// Run runs every stage the configuration turns on, in order, and returns the
// report with its verdict. A stage that fails does not stop the ones after
// it, except that nothing is sent when the smoke stage finds the deployment
// down. The error is for options the caller must fix (ErrInvalidConfig) or an
// ended ctx, with the checks made so far in the report.
func Run(ctx context.Context, opts Options) (*result.Report, error) {
	if opts.Config.Version == 0 {
		opts.Config = DefaultConfig()
	}
	cfg, err := opts.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	t := opts.Target
	deployed := t.CaptureURL != "" && t.Token != ""
	if opts.Cluster != nil {
		if opts.Cluster.Kubeconfig == "" {
			opts.Cluster = nil
		} else {
			cl := *opts.Cluster
			cl.defaults()
			opts.Cluster = &cl
		}
	}
	if !deployed && opts.Chart == "" {
		return nil, invalid("nothing to gate: give a deployment (--state DIR, or --target URL --token T) or a chart (--chart DIR)")
	}
	if opts.Cluster != nil && opts.Chart == "" {
		return nil, invalid("a cluster (--kubeconfig) is gated by installing the release's chart: pass --chart DIR")
	}
	if t.Database == "" {
		t.Database = "default"
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	target := t.CaptureURL
	if opts.Chart != "" {
		target = strings.TrimPrefix(target+", chart "+opts.Chart, ", ")
	}
	rep := &result.Report{Title: "shakedown gate", Target: target, Started: time.Now(), Meta: map[string]string{}}
	for k, v := range opts.Meta {
		rep.Meta[k] = v
	}
	rep.Meta["seed"] = fmt.Sprint(opts.Seed)
	// Checks that count stored events per uuid must send uuids no earlier run
	// sent, or a deployment that keeps data would pass on old rows: their
	// seed mixes in the run's start.
	r := &runner{opts: opts, cfg: cfg, t: t, rep: rep, uuidSeed: opts.Seed ^ uint64(rep.Started.UnixNano())}
	defer r.close()
	stages := []struct {
		name string
		on   bool
		run  func(context.Context) bool
	}{
		{StageChart, cfg.Stages.Chart.On(), r.chart},
		{StageInstall, cfg.Stages.Install.On(), r.install},
		{StageSmoke, cfg.Stages.Smoke.On(), r.smoke},
		{StageE2E, cfg.Stages.E2E.On(), r.e2e},
		{StageLoad, cfg.Stages.Load.On(), r.load},
		{StageFaults, cfg.Stages.Faults.On(), r.faults},
		{StageGoLive, cfg.Stages.GoLive.On(), r.golive},
	}
	for i, st := range stages {
		if ctx.Err() != nil {
			break
		}
		if !st.on {
			rep.Add(result.Check{Layer: st.name, Stage: st.name, Name: st.name, Status: result.Skip, Summary: "turned off in the gate file (enabled: false)"})
			continue
		}
		if st.name == StageChart && opts.Chart == "" {
			rep.Add(result.Check{Layer: st.name, Stage: st.name, Name: st.name, Status: result.Skip, Summary: "no chart given (--chart DIR)"})
			continue
		}
		if st.name == StageInstall && opts.Cluster == nil {
			rep.Add(result.Check{Layer: st.name, Stage: st.name, Name: st.name, Status: result.Skip, Summary: "no cluster given (--kubeconfig FILE --release NAME)"})
			continue
		}
		if st.name == StageInstall {
			if !st.run(ctx) {
				for _, later := range stages[i+1:] {
					if later.on && later.name != StageGoLive {
						rep.Add(result.Check{Layer: later.name, Stage: later.name, Name: later.name, Status: result.Skip,
							Summary: "not run: the release did not install"})
					}
				}
				if cfg.Stages.GoLive.On() {
					r.golive(ctx)
				}
				break
			}
			continue
		}
		if st.name == StageGoLive && !deployed && opts.Cluster != nil {
			st.run(ctx) // the release's backups; the checks that need its URL skip
			continue
		}
		if st.name != StageChart && !deployed {
			rep.Add(result.Check{Layer: st.name, Stage: st.name, Name: st.name, Status: result.Skip, Summary: "no deployment given (--state DIR, or --target URL --token T)"})
			continue
		}
		if !st.run(ctx) && st.name == StageSmoke {
			for _, later := range stages[i+1:] {
				if later.on {
					rep.Add(result.Check{Layer: later.name, Stage: later.name, Name: later.name, Status: result.Skip,
						Summary: "not run: the smoke stage found the deployment unhealthy"})
				}
			}
			break
		}
	}
	if ctx.Err() != nil {
		rep.Add(result.Check{Layer: "gate", Stage: "interrupted", Name: "interrupted", Status: result.Error,
			Summary: "the gate was interrupted: the stages after this point did not run, and those before may be partial"})
	}
	rep.Duration = time.Since(rep.Started)
	rep.Finish()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("gate interrupted: %w", err)
	}
	return rep, nil
}

// The stages, in the order they run.
const (
	StageChart   = "chart"
	StageInstall = "install"
	StageSmoke   = "smoke"
	StageE2E     = "e2e"
	StageLoad    = "load"
	StageFaults  = "faults"
	StageGoLive  = "go-live"
)

// runner holds one Run's state.
type runner struct {
	opts     Options
	uuidSeed uint64 // seed of the events whose storage is counted per uuid
	cfg      Config
	t        Target
	rep      *result.Report
	ch       driver.Conn
}

func (r *runner) step(stage, s string) {
	if r.opts.Progress != nil {
		r.opts.Progress(stage, s)
	}
}

// clickhouse connects to the target's store once.
func (r *runner) clickhouse(ctx context.Context) (driver.Conn, error) {
	if r.ch != nil {
		return r.ch, nil
	}
	if r.t.ClickHouse == "" {
		return nil, fmt.Errorf("no ClickHouse address: pass --state DIR or --clickhouse host:port")
	}
	conn, err := chconn.Open(ctx, r.t.ClickHouse, r.t.User, r.t.Password)
	if err != nil {
		return nil, err
	}
	r.ch = conn
	return conn, nil
}

func (r *runner) close() {
	if r.ch != nil {
		r.ch.Close()
	}
}

// check times f and adds the check it returns.
func (r *runner) check(stage, layer, name string, f func() result.Check) result.Check {
	began := time.Now()
	c := f()
	c.Stage, c.Layer, c.Name, c.Duration = stage, layer, name, time.Since(began)
	r.rep.Add(c)
	return c
}
