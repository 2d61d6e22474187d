package unit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// workerEnv makes the test binary serve as a unit worker (see TestMain).
const workerEnv = "SHAKEDOWN_UNIT_TEST_WORKER"

// TestMain lets the test binary be its own worker process, as the shakedown
// binary's hidden unit-worker command is for the CLI.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := ServeWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testWorker starts this test binary as a unit worker.
func testWorker(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	return cmd
}

// run runs Run with test workers and fails the test if it could not run.
func run(t testing.TB, opts Options) Report {
	t.Helper()
	if opts.Worker == nil {
		opts.Worker = testWorker
	}
	if opts.Parallelism == 0 {
		opts.Parallelism = 2 // workers even on a one-CPU machine
	}
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("unit.Run: %v", err)
	}
	return rep
}

// copyChart copies a chart into a temporary directory, so snapshots written
// by a test stay out of the source tree.
func copyChart(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir() + "/chart"
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy chart %s: %v", src, err)
	}
	return dst
}

// verdicts maps "suite/case" to its status over every run of a report,
// prefixed by the run's Kubernetes version when it has one.
func verdicts(r Report) map[string]Status {
	out := map[string]Status{}
	for _, run := range r.Runs {
		for _, s := range run.Suites {
			for _, c := range s.TestsResult {
				if c == nil {
					continue
				}
				key := s.DisplayName + "/" + c.DisplayName
				if run.KubeVersion != "" {
					key = run.KubeVersion + " " + key
				}
				out[key] = CaseStatus(c)
			}
		}
	}
	return out
}
