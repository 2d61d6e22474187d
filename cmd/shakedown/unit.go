package main

import (
	"github.com/spf13/cobra"

	"github.com/shakedown-dev/shakedown/suites/unit"
)

// unitFlags are the options of `shakedown unit`.
type unitFlags struct {
	files       []string
	update      bool
	junit       string
	parallelism int
}

// newUnitCmd builds `shakedown unit`: run a chart's helm-unittest suites
// in-process with the Helm SDK, unchanged.
func newUnitCmd() *cobra.Command {
	var f unitFlags
	cmd := &cobra.Command{
		Use:   "unit [CHART]",
		Short: "Run a chart's helm-unittest suites in-process (tests/*_test.yaml, snapshots, JUnit)",
		Long: `Unit renders CHART (default ` + defaultChartDir + `) once per test case with the Helm SDK and
checks helm-unittest assertions (equal, contains, isSubset, matchRegex, hasDocuments,
failedTemplate, matchSnapshot, ...). Suites are read unchanged from CHART/tests/*_test.yaml
unless -f is given; snapshots live in __snapshot__/ beside each suite and are rewritten with -u.
The exit code is 1 when any case fails.`,
		Example: `  shakedown unit
  shakedown unit charts/reference-stack -f 'tests/ingress_test.yaml' --junit out/unit.xml
  shakedown unit -u   # accept changed snapshots`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			chart := defaultChartDir
			if len(args) == 1 {
				chart = args[0]
			}
			res, err := unit.Run(cmd.Context(), unit.Options{
				ChartDir:        chart,
				TestGlobs:       f.files,
				UpdateSnapshots: f.update,
				Out:             cmd.OutOrStdout(),
				JUnitPath:       f.junit,
				Parallelism:     f.parallelism,
			})
			if err != nil {
				return err
			}
			if !res.Passed {
				return &exitError{code: 1, msg: "unit tests failed"}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&f.files, "file", "f", nil, "suite files glob, relative to CHART (repeatable; default "+unit.DefaultTestGlob+")")
	cmd.Flags().BoolVarP(&f.update, "update-snapshot", "u", false, "rewrite __snapshot__ files instead of comparing")
	cmd.Flags().StringVar(&f.junit, "junit", "", "also write a JUnit XML report to FILE")
	cmd.Flags().IntVar(&f.parallelism, "parallelism", 0, "cases rendered at once (default: number of CPUs)")
	return cmd
}
