package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newRootCmd builds the command tree; each layer contributes its own subcommand.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "shakedown",
		Short:         "Test and benchmark deployments of the reference ingestion stack",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// A flag that does not parse is a usage error, whatever the command.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("%v (see %s --help)", err, cmd.CommandPath())}
	})
	root.AddCommand(
		newStackCmd(),
		newServeCmd(),
		newClusterCmd(),
		newLintCmd(),
		newUnitCmd(),
		newUnitWorkerCmd(),
		newIntegrationCmd(),
		newE2ECmd(),
		newLoadCmd(),
		newBenchCmd(),
		newGateCmd(),
		newImagesCmd(),
	)
	return root
}
