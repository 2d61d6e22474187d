package main

import (
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
	root.AddCommand(
		newStackCmd(),
		newServeCmd(),
		newClusterCmd(),
		newLintCmd(),
		newUnitCmd(),
		newIntegrationCmd(),
		newE2ECmd(),
		newLoadCmd(),
		newBenchCmd(),
	)
	return root
}
