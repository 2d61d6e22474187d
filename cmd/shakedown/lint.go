package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/junit"
	"github.com/shakedown-dev/shakedown/suites/lint"
)

// defaultChartDir is the project's chart, linted when no CHART is given.
const defaultChartDir = "charts/reference-stack"

type lintFlags struct {
	values     []string
	kubernetes []string
	clouds     []string
	overlays   string
	specs      string
	output     string
	junit      string
	namespace  string
	matrix     string
	apis       []string
	rules      bool
}

// newLintCmd builds `shakedown lint`: strict helm lint, strict schema
// decoding, per-version API availability and policy rules for every cloud
// overlay × Kubernetes version of a chart, all in-process.
func newLintCmd() *cobra.Command {
	var f lintFlags
	cmd := &cobra.Command{
		Use:   "lint [CHART]",
		Short: "Lint a Helm chart for every cloud overlay and Kubernetes version (helm lint --strict, schemas, API removals, policy rules)",
		Long: `Lint renders CHART (default ` + defaultChartDir + `), a chart directory or a packaged chart
(.tgz), in-process for every cloud overlay and every Kubernetes version (default:
fixtures/kubernetes.yaml) and reports, per finding, the rule ID, severity, object, message and fix.
Dependencies vendored in CHART/charts/ are used as they are; nothing is fetched.

Cloud overlays are the <cloud>.yaml files of the directory given with --overlays DIR, else of the
directory that the nearest fixtures/overlays.yaml above CHART maps CHART to:

  charts:
    charts/reference-stack: charts/reference-stack/values   # relative to the parent of fixtures/

A chart's own values/ directory is not read as overlays unless named so. Without overlays, CHART is
linted once per version with its default values (cloud "default").

Rules:

  SD100       helm lint --strict (its YAML, name and deprecation messages are left to the rules
              below, which judge them with Helm's install-time splitter and name the fix)
  SD101-SD106 every rendered object (Lists expanded) against the OpenAPI schema of each Kubernetes
              version, from that version's k8s.io/kubernetes module (downloaded once through the
              Go module proxy): wrong types, unknown fields (also fields newer than the cluster),
              duplicate keys, required fields, enums, formats, names; custom resources against the
              CRDs the chart ships (others are listed as not schema-checked); rendering
  SD110-SD112 apiVersions removed, deprecated or not yet served on that Kubernetes version, with
              the apiVersion to use there
  SD120-SD122 selectors that miss their pod template, Services selecting no pod, duplicate objects
  SD001-SD010 policy: resources, probes, security context, pinned images, PodDisruptionBudgets,
              NetworkPolicies, encrypted storage, host access

Findings about Helm hooks and tests say so ([helm hook: test]). --rules lists every rule with what
it judges and exempts.

An object waives policy rules with the annotation shakedown.dev/waive: "SD004,SD006" (and a
reason in shakedown.dev/waive-reason). The exit code is 1 when any unwaived error is found, 2 when
the command was used wrong (no chart, a missing --overlays directory, a --cloud without overlay).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.rules {
				return printRules(cmd.OutOrStdout())
			}
			chart := defaultChartDir
			if len(args) == 1 {
				chart = args[0]
			}
			return runLint(cmd, chart, f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.values, "values", "f", nil, "values file applied after the cloud overlay (repeatable; later files win)")
	fl.StringSliceVar(&f.kubernetes, "kubernetes", nil, "Kubernetes versions, e.g. 1.28,1.30,1.34 (default: the versions of fixtures/kubernetes.yaml)")
	fl.StringSliceVar(&f.clouds, "cloud", nil, "cloud overlays to lint, e.g. aws,gcp (default: every overlay found)")
	fl.StringVar(&f.overlays, "overlays", "", "directory of cloud overlays <cloud>.yaml (default: the one fixtures/overlays.yaml maps CHART to; none: one \"default\" cell)")
	fl.StringVarP(&f.output, "output", "o", "text", "report format on stdout: "+strings.Join(lint.Formats(), ", "))
	fl.StringVar(&f.junit, "junit", "", "also write a JUnit XML report to FILE")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "release namespace to render with (default \"default\")")
	fl.StringVar(&f.specs, "openapi-dir", "", "directory of OpenAPI specs per Kubernetes version (DIR/1.34.4/*_openapi.json), checked before the k8s.io/kubernetes modules")
	fl.StringVar(&f.matrix, "matrix", "", "version matrix file {versions: [...]} (default: fixtures/kubernetes.yaml above CHART)")
	fl.StringSliceVarP(&f.apis, "api-versions", "a", nil, "extra apiVersions the clusters serve, for .Capabilities.APIVersions (e.g. monitoring.coreos.com/v1/ServiceMonitor)")
	fl.BoolVar(&f.rules, "rules", false, "list the rules and exit")
	return cmd
}

// runLint lints the chart, writes the reports and turns failures into exit code 1.
func runLint(cmd *cobra.Command, chart string, f lintFlags) error {
	encode, err := lint.EncoderFor(f.output)
	if err != nil {
		return &exitError{code: exitUsage, msg: err.Error()}
	}
	report, err := lint.Run(cmd.Context(), lint.Options{
		ChartDir:     chart,
		ValuesFiles:  f.values,
		KubeVersions: f.kubernetes,
		Clouds:       f.clouds,
		OverlayDir:   f.overlays,
		SpecDir:      f.specs,
		Namespace:    f.namespace,
		MatrixFile:   f.matrix,
		APIVersions:  f.apis,
	})
	if err != nil {
		return usageExit(err, lint.ErrInvalidOptions)
	}
	if err := encode(cmd.OutOrStdout(), report); err != nil {
		return fmt.Errorf("write lint report: %w", err)
	}
	if f.junit != "" {
		if err := junit.WriteFile(f.junit, func(w io.Writer) error { return lint.EncodeJUnit(w, report) }); err != nil {
			return err
		}
	}
	if report.Failed() {
		c := report.Count()
		return &exitError{code: exitCheckFailed, msg: fmt.Sprintf("lint found %d errors in %s", c.Errors, chart)}
	}
	return nil
}

// printRules lists the rule catalog.
func printRules(w io.Writer) error {
	for _, r := range lint.Rules() {
		waivable := ""
		if r.Waivable {
			waivable = " (waivable)"
		}
		if _, err := fmt.Fprintf(w, "%s  %-7s %s%s\n       fix: %s\n", r.ID, r.Severity, r.Title, waivable, r.Fix); err != nil {
			return err
		}
		if r.Scope != "" {
			if _, err := fmt.Fprintf(w, "       scope: %s\n", r.Scope); err != nil {
				return err
			}
		}
	}
	return nil
}
