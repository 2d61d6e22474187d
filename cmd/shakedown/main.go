// Command shakedown tests and benchmarks deployments of the reference ingestion stack:
// it brings the stack up locally, lints and unit-tests its Helm chart, installs it on
// real Kubernetes control planes, and drives load against it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	if err == nil {
		return
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.msg != "" {
			fmt.Fprintln(os.Stderr, "shakedown:", exit.msg)
		}
		os.Exit(exit.code)
	}
	fmt.Fprintln(os.Stderr, "shakedown:", err)
	if cobraUsageError(err) {
		os.Exit(exitUsage)
	}
	os.Exit(1)
}

// cobraUsageError reports the errors cobra returns for a command line it
// refuses after parsing (flag groups, required flags, arguments), which are
// usage errors like the parse errors of SetFlagErrorFunc.
func cobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"if any flags in the group", "at least one of the flags in the group", "required flag(s)",
		"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "invalid argument"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

// Exit codes shared by the commands.
const (
	// exitCheckFailed: the command ran and what it checked failed.
	exitCheckFailed = 1
	// exitUsage: the command was used wrong (bad flag value, impossible combination).
	exitUsage = 2
	// exitThresholds: a load or benchmark ran and a declared threshold failed
	// (k6's code for the same).
	exitThresholds = 99
	// exitInterrupted: stopped by a signal; any report printed is partial.
	exitInterrupted = 130
)

// usageExit turns err into exit code exitUsage when it wraps one of the
// library's invalid-options sentinels; other errors pass through.
func usageExit(err error, sentinels ...error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
	}
	return err
}

// exitError ends the program with a given code; commands return it when they have
// already reported their findings (e.g. lint errors) and only the exit code is left.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }
