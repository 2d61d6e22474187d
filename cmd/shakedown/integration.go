package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/chconn"
	"github.com/shakedown-dev/shakedown/internal/cluster/kubebin"
	"github.com/shakedown-dev/shakedown/internal/cluster/kubeconfig"
	"github.com/shakedown-dev/shakedown/internal/cluster/local"
	"github.com/shakedown-dev/shakedown/internal/cluster/realnode"
	"github.com/shakedown-dev/shakedown/internal/junit"
	"github.com/shakedown-dev/shakedown/internal/progress"
	"github.com/shakedown-dev/shakedown/suites/e2e"
	"github.com/shakedown-dev/shakedown/suites/integration"
)

// integrationFlags are the options of `shakedown integration`.
type integrationFlags struct {
	kubernetes []string
	kubeconfig string
	values     []string
	clouds     []string
	from       string
	output     string
	junit      string
	timeout    time.Duration
	parallel   int
	nodes      string
	events     int
}

// localImagesCloud is the chart's overlay for machines without a registry: the images
// `shakedown images build` makes, never pulled. Real nodes run it by default.
const localImagesCloud = integration.LocalImages

// newIntegrationCmd builds `shakedown integration`: install, upgrade, roll back
// and uninstall a chart on real Kubernetes control planes (or an existing
// cluster) with the Helm SDK in-process, checking the cluster after each step.
func newIntegrationCmd() *cobra.Command {
	var f integrationFlags
	cmd := &cobra.Command{
		Use:   "integration [CHART]",
		Short: "Install, upgrade, roll back and uninstall a chart on real Kubernetes control planes of several versions",
		Long: `Integration runs CHART (default ` + defaultChartDir + `) through, for every Kubernetes version ×
cloud overlay (CHART/values/<cloud>.yaml but local-images), in a namespace of its own:

  dry-run    render against the server and server-side dry-run every object
  install    install --from (or CHART) and wait; every workload Ready, no container
             restarted twice, Jobs succeeded
  assert     Services have ready EndpointSlices, PVCs Bound (on an encrypting
             StorageClass for aws/gcp/azure/digitalocean), NetworkPolicies select every
             pod, ServiceAccounts cannot list secrets, create pods, escalate, ...
  upgrade    upgrade to CHART and wait, same checks
  rollback   roll back to the installed revision and wait, same checks
  uninstall  uninstall and wait; nothing may be left in the namespace

Without --kubeconfig each version gets a local control plane (kube-apiserver,
controller-manager and scheduler built from the Kubernetes sources on first use and
cached; kwok fake nodes). Versions run in parallel as memory allows.

With --nodes real the pods really run: each version's control plane gets one real node
on this machine (kubelet, its own containerd, a CNI bridge, kube-proxy and CoreDNS; root
needed), the images are built locally and imported (overlay CHART/values/` + localImagesCloud + `.yaml
unless --cloud says otherwise), versions run one after another, and a step runs after
assert:

  traffic    port-forward to the capture, ClickHouse and PostgreSQL Services, create a
             project, send --events events and check every acknowledged one is stored

With --kubeconfig
the cluster of that file is used and its version replaces --kubernetes. The exit code
is 1 when any row fails.`,
		Example: `  shakedown integration --kubernetes 1.34.4 --cloud aws
  shakedown integration --from v0.1.0 --output junit > out/integration.xml
  shakedown integration --kubeconfig ~/.kube/config --cloud gcp --from old-chart.tgz
  shakedown integration --nodes real --kubernetes 1.34.4 --events 10000`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			chart := defaultChartDir
			if len(args) == 1 {
				chart = args[0]
			}
			return runIntegration(cmd, chart, f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.kubernetes, "kubernetes", nil, "Kubernetes versions, e.g. 1.28.15,1.34.4 (default: the versions of fixtures/kubernetes.yaml)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "use the cluster of this kubeconfig instead of local control planes")
	fl.StringArrayVarP(&f.values, "values", "f", nil, "values file applied after the cloud overlay (repeatable; later files win)")
	fl.StringSliceVar(&f.clouds, "cloud", nil, "cloud overlays, e.g. aws,gcp (default: every CHART/values/*.yaml)")
	fl.StringVar(&f.from, "from", "", "previous release to install and upgrade from: a git ref of this repository, a .tgz or a chart directory (default: CHART itself)")
	fl.StringVarP(&f.output, "output", "o", "text", "report format on stdout: "+strings.Join(integration.Formats(), ", "))
	fl.StringVar(&f.junit, "junit", "", "also write a JUnit XML report to FILE")
	fl.DurationVar(&f.timeout, "timeout", integration.DefaultTimeout, "bound of each Helm step's wait")
	fl.IntVar(&f.parallel, "parallel", 0, "versions run at once (default: as many control planes as free memory allows)")
	fl.StringVar(&f.nodes, "nodes", "kwok", "nodes of the local control planes: kwok (fake nodes, fast) or real (one real node; pods run, traffic step)")
	fl.IntVar(&f.events, "events", 10000, "events the traffic step sends (with --nodes real)")
	return cmd
}

// runIntegration runs the layer, writes the reports and turns failed rows
// into exit code 1.
func runIntegration(cmd *cobra.Command, chart string, f integrationFlags) error {
	encode, err := integration.EncoderFor(f.output)
	if err != nil {
		return err
	}
	mode, err := parseNodeMode(f.nodes)
	if err != nil {
		return err
	}
	if mode.real && f.kubeconfig != "" {
		return &exitError{code: exitUsage, msg: "--nodes real starts local control planes; it does not apply to --kubeconfig"}
	}
	if f.events < 1 {
		return &exitError{code: exitUsage, msg: "--events must be at least 1"}
	}
	if cmd.Flags().Changed("events") && !mode.real {
		return &exitError{code: exitUsage, msg: "--events sizes the traffic step, which needs pods that run: add --nodes real"}
	}
	opts := integration.Options{
		ChartDir:    chart,
		From:        f.from,
		Clouds:      f.clouds,
		ValuesFiles: f.values,
		StepTimeout: f.timeout,
		Parallel:    f.parallel,
		Log:         cmd.ErrOrStderr(),
	}
	if f.kubeconfig != "" {
		cl, err := kubeconfig.Open(cmd.Context(), kubeconfig.Options{Path: f.kubeconfig})
		if err != nil {
			return err
		}
		version := strings.TrimPrefix(cl.Version(), "v")
		if len(f.kubernetes) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "shakedown: --kubernetes ignored with --kubeconfig: the cluster runs %s\n", cl.Version())
		}
		opts.KubeVersions = []string{version}
		opts.Start = func(context.Context, string) (integration.Cluster, error) { return cl, nil }
	} else {
		opts.KubeVersions = f.kubernetes
		if len(opts.KubeVersions) == 0 {
			if opts.KubeVersions, err = integration.MatrixVersions(chart); err != nil {
				return err
			}
		}
		reporter := progress.New(cmd.ErrOrStderr())
		opts.Start = func(ctx context.Context, version string) (integration.Cluster, error) {
			return local.Start(ctx, local.Options{Version: version, Progress: reporter, Nodes: mode.kwok})
		}
		if mode.real {
			if err := realNodeIntegration(&opts, f, chart, reporter, cmd.ErrOrStderr()); err != nil {
				return err
			}
		}
	}
	report, err := integration.Run(cmd.Context(), opts)
	if err != nil {
		return err
	}
	if err := encode(cmd.OutOrStdout(), report); err != nil {
		return fmt.Errorf("write integration report: %w", err)
	}
	if f.junit != "" {
		if err := junit.WriteFile(f.junit, func(w io.Writer) error { return integration.EncodeJUnit(w, report) }); err != nil {
			return err
		}
	}
	if report.Failed() {
		return &exitError{code: 1, msg: fmt.Sprintf("integration: %d of %d rows failed for %s", report.Count()[integration.StatusFail], len(report.Rows), chart)}
	}
	return nil
}

// realNodeIntegration makes opts run on real nodes: one version at a time (one real
// node runs on a machine), the local-images overlay by default, and the traffic step
// sending f.events events through port-forwards.
func realNodeIntegration(opts *integration.Options, f integrationFlags, chart string, reporter *progress.Reporter, stderr io.Writer) error {
	if len(opts.Clouds) == 0 {
		if _, err := os.Stat(filepath.Join(chart, "values", localImagesCloud+".yaml")); err != nil {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("--nodes real: %s has no values/%s.yaml overlay naming images built here; pass --cloud and -f with images the node can run", chart, localImagesCloud)}
		}
		opts.Clouds = []string{localImagesCloud}
	}
	if opts.Parallel > 1 {
		fmt.Fprintln(stderr, "shakedown: --parallel ignored with --nodes real: one real node runs at a time")
	}
	opts.Parallel = 1
	cache, err := kubebin.New(kubebin.Options{Progress: reporter})
	if err != nil {
		return err
	}
	opts.Start = func(ctx context.Context, version string) (integration.Cluster, error) {
		rn, release, err := realnode.Prepare(ctx, version, realnode.Options{Binaries: cache, Log: stderr, Step: reporter.Step})
		if err != nil {
			return nil, err
		}
		defer release()
		return local.Start(ctx, local.Options{Version: version, Binaries: cache, Progress: reporter, RealNode: rn})
	}
	opts.Traffic = func(ctx context.Context, t integration.TrafficTarget) (string, error) {
		conn, err := chconn.Open(ctx, t.ClickHouseAddr, t.ClickHouseUser, t.ClickHousePassword)
		if err != nil {
			return "", fmt.Errorf("ClickHouse of release %s through %s: %w", t.Release, t.ClickHouseAddr, err)
		}
		defer conn.Close()
		res, err := e2e.Run(ctx, e2e.Options{Target: t.CaptureURL, Token: t.Token, ClickHouse: conn, Database: t.ClickHouseDatabase, Events: f.events})
		if err != nil {
			return "", err
		}
		summary := fmt.Sprintf("%d events sent in %d requests, %d acknowledged, %d stored (%d distinct), %d missing",
			f.events, res.Sent.Requests, len(res.Sent.Acked), res.Stored.Rows, res.Stored.Distinct, res.Stored.MissingCount)
		if !res.Passed() {
			return "", fmt.Errorf("%s: %s", summary, res.Failure())
		}
		return summary, nil
	}
	return nil
}
