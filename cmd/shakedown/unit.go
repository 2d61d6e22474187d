package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/internal/junit"
	"github.com/shakedown-dev/shakedown/suites/unit"
)

// unitFlags are the options of `shakedown unit`; the short flags are
// helm-unittest's own.
type unitFlags struct {
	files          []string
	values         []string
	update         bool
	withSubcharts  bool
	strict         bool
	failfast       bool
	skipSchema     bool
	chartTestsPath string
	kubernetes     []string
	outputType     string
	outputFile     string
	junit          string
	format         string
	parallelism    int
}

// newUnitCmd builds `shakedown unit`: a chart's helm-unittest suites through
// helm-unittest's own engine, in parallel, optionally per Kubernetes version.
func newUnitCmd() *cobra.Command {
	var f unitFlags
	cmd := &cobra.Command{
		Use:   "unit [CHART ...]",
		Short: "Run charts' helm-unittest suites with helm-unittest's engine, in parallel and per Kubernetes version",
		Long: `Unit runs the helm-unittest suites of each CHART (default ` + defaultChartDir + `; a directory or a
packaged .tgz) with helm-unittest's own engine, so every verdict is the one helm-unittest gives.
Beyond its CLI: suites run in parallel across cores, --kubernetes runs every suite once per
Kubernetes version (as .Capabilities.KubeVersion where a suite does not set one), and
snapshot files are only read unless -u is given (helm-unittest also writes new and pruned
snapshots without -u).

These helm-unittest flags work the same: -f (globs, ** for any depth), -v, -u, -s, --strict,
--chart-tests-path, -q, -t/-o, --skip-schema-validation (not --color and -d). --kubernetes
renders MAJOR.MINOR.0 of each version (suites set only major and minor). Each suite starts
from Helm's default Kubernetes version, where helm-unittest lets a case's version leak into
the suites after it.

Exit codes: 0 all passed, 1 a case, suite or chart failed, 2 the command was used wrong,
130 interrupted (the report is partial).`,
		Example: `  shakedown unit
  shakedown unit charts/reference-stack --kubernetes 1.28.15,1.34.4
  shakedown unit ./my-chart -f 'tests/**/*_test.yaml' -t JUnit -o out/unit.xml
  shakedown unit ./my-chart -u   # accept changed snapshots`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{defaultChartDir}
			}
			return usageExit(runUnit(cmd, args, f), unit.ErrInvalidOptions)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.files, "file", "f", nil, "suite files glob relative to each chart, ** for any depth (repeatable; default "+unit.DefaultTestFile+")")
	fl.StringArrayVarP(&f.values, "values", "v", nil, "values file applied to every suite after its own (repeatable)")
	fl.BoolVarP(&f.update, "update-snapshot", "u", false, "write __snapshot__ files: create, update and prune (never done without -u)")
	fl.BoolVarP(&f.withSubcharts, "with-subchart", "s", true, "also run the suites of enabled subcharts under charts/")
	fl.BoolVar(&f.strict, "strict", false, "refuse unknown fields in suite files")
	fl.BoolVarP(&f.failfast, "failfast", "q", false, "start no further suite after the first failure")
	fl.BoolVar(&f.skipSchema, "skip-schema-validation", false, "render without checking values.schema.json")
	fl.StringVar(&f.chartTestsPath, "chart-tests-path", "", "chart, relative to CHART, whose rendered templates are suites")
	fl.StringSliceVar(&f.kubernetes, "kubernetes", nil, "run every suite once per Kubernetes version, e.g. 1.28.15,1.34.4 (default: helm-unittest's)")
	fl.StringVarP(&f.outputType, "output-type", "t", "XUnit", "report type written to --output-file: JUnit, NUnit, XUnit or Sonar")
	fl.StringVarP(&f.outputFile, "output-file", "o", "", "also write the report to FILE as --output-type")
	fl.StringVar(&f.junit, "junit", "", "also write a JUnit XML report to FILE (same as -t JUnit -o FILE)")
	fl.StringVar(&f.format, "format", "text", "report format on stdout: "+strings.Join(unit.Formats(), ", "))
	fl.IntVar(&f.parallelism, "parallelism", 0, "suites run at once (default: number of CPUs)")
	return cmd
}

// runUnit runs the suites, writes the reports and turns failures into exit code 1.
func runUnit(cmd *cobra.Command, charts []string, f unitFlags) error {
	lessGC()
	encode, err := unit.EncoderFor(f.format)
	if err != nil {
		return err
	}
	files := map[string]string{} // path -> format
	if f.outputFile != "" {
		files[f.outputFile] = f.outputType
	}
	if f.junit != "" {
		files[f.junit] = "junit"
	}
	fileEncoders := map[string]unit.Encoder{}
	for path, format := range files {
		enc, err := unit.EncoderFor(format)
		if err != nil || !slices.Contains(unit.XMLFormats(), strings.ToLower(format)) {
			return fmt.Errorf("%w: --output-type %q: use JUnit, NUnit, XUnit or Sonar", unit.ErrInvalidOptions, format)
		}
		fileEncoders[path] = enc
	}
	report, err := unit.Run(cmd.Context(), unit.Options{
		Charts:               charts,
		TestFiles:            f.files,
		ValuesFiles:          f.values,
		ChartTestsPath:       f.chartTestsPath,
		SkipSubcharts:        !f.withSubcharts,
		UpdateSnapshots:      f.update,
		Strict:               f.strict,
		Failfast:             f.failfast,
		SkipSchemaValidation: f.skipSchema,
		KubeVersions:         f.kubernetes,
		Parallelism:          f.parallelism,
		Worker:               unitWorker(cmd.ErrOrStderr()),
	})
	if err != nil && !errors.Is(err, cmd.Context().Err()) {
		return err
	}
	if encErr := encode(cmd.OutOrStdout(), report); encErr != nil {
		return fmt.Errorf("write unit report: %w", encErr)
	}
	for path, enc := range fileEncoders {
		if err := junit.WriteFile(path, func(w io.Writer) error { return enc(w, report) }); err != nil {
			return err
		}
	}
	if err != nil {
		return &exitError{code: exitInterrupted, msg: err.Error() + ": the report above is partial"}
	}
	if report.Failed() {
		c := report.Count()
		return &exitError{code: exitCheckFailed, msg: fmt.Sprintf("unit: %d of %d cases failed, %d suites could not run, %d of %d charts failed",
			c.Tests.Failed, c.Tests.Total(), c.Suites.Errored, c.Charts.Failed, c.Charts.Total())}
	}
	return nil
}

// unitWorker starts this binary's hidden `unit-worker` command, the worker
// process of a parallel unit run; its log lines go to stderr.
func unitWorker(stderr io.Writer) func(ctx context.Context) *exec.Cmd {
	exe := "/proc/self/exe" // this very binary, even if rebuilt or removed during the run
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			exe = os.Args[0]
		}
	}
	return func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe, unitWorkerCmd)
		cmd.Stderr = stderr
		return cmd
	}
}

// unitWorkerCmd names the hidden command that serves unit.ServeWorker.
const unitWorkerCmd = "unit-worker"

// newUnitWorkerCmd builds the hidden worker command started by `shakedown unit`.
func newUnitWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    unitWorkerCmd,
		Short:  "Run unit suites for a parent `shakedown unit` (started by it, not by hand)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return unit.ServeWorker(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}

// lessGC gives this process the collector setting of unit's worker
// processes (unit.WorkerGCPercent) unless the user set GOGC.
func lessGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(unit.WorkerGCPercent)
	}
}
