package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mattn/go-shellwords"
	"github.com/rhysd/actionlint"
)

// workflowFiles are the GitHub Actions workflows users copy from the repository.
func workflowFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../.github/workflows/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows found in .github/workflows (%v)", err)
	}
	return files
}

// TestWorkflowsPassActionlint lints every workflow with actionlint, as GitHub
// would refuse or misrun them: YAML syntax, expressions, contexts, action
// inputs, and the run scripts through shellcheck (installed by `make
// test-deps`).
func TestWorkflowsPassActionlint(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck is not on PATH: `make test-deps` installs it (apt-get install shellcheck)")
	}
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{Shellcheck: shellcheck, Oneline: true})
	if err != nil {
		t.Fatal(err)
	}
	files := workflowFiles(t)
	errs, err := linter.LintFiles(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Errorf("actionlint found %d problems in %d workflows:\n%s", len(errs), len(files), out.String())
	}
}

// TestActionlintCatchesAnInvalidWorkflow is the check above failing where it
// must: a flow mapping holding ${{ }} is not valid YAML.
func TestActionlintCatchesAnInvalidWorkflow(t *testing.T) {
	bad := []byte("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" +
		"      - uses: actions/upload-artifact@v4\n        with: { name: r-${{ github.sha }}, path: out }\n")
	linter, err := actionlint.NewLinter(&bytes.Buffer{}, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.Lint("bad.yml", bad, nil)
	if err != nil || len(errs) == 0 {
		t.Errorf("actionlint passed a workflow GitHub refuses (err %v)", err)
	}
}

// shakedownLine finds a shakedown invocation in a shell line.
var shakedownLine = regexp.MustCompile(`(?:^|[;&|(]\s*)((?:\./)?(?:bin/)?shakedown\s.*)$`)

// expression is a GitHub Actions ${{ }} expression or a shell variable,
// replaced by a value every flag type parses before the flags are checked.
var expression = regexp.MustCompile(`\$\{\{[^}]*\}\}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)

// arrayExpansion is a bash array expanded to its words ("${extra[@]}"), which
// may be none: it is dropped before the flags are checked.
var arrayExpansion = regexp.MustCompile(`"?\$\{[A-Za-z_][A-Za-z0-9_]*\[@\]\}"?`)

// TestWorkflowsUseRealCommandsAndFlags parses every shakedown command line in
// the workflows with the CLI's own command tree: a renamed command or flag, or
// a value of the wrong type, fails here rather than in a user's CI.
func TestWorkflowsUseRealCommandsAndFlags(t *testing.T) {
	seen := 0
	for _, file := range workflowFiles(t) {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		wf, errs := actionlint.Parse(src)
		if len(errs) > 0 {
			t.Errorf("%s: %v", file, errs[0])
			continue
		}
		for jobName, job := range wf.Jobs {
			for _, step := range job.Steps {
				run, ok := step.Exec.(*actionlint.ExecRun)
				if !ok || run.Run == nil {
					continue
				}
				script := strings.ReplaceAll(run.Run.Value, "\\\n", " ")
				for _, line := range strings.Split(script, "\n") {
					m := shakedownLine.FindStringSubmatch(strings.TrimSpace(line))
					if m == nil {
						continue
					}
					seen++
					where := filepath.Base(file) + " job " + jobName + ": " + strings.TrimSpace(line)
					if err := checkShakedownArgs(expression.ReplaceAllString(arrayExpansion.ReplaceAllString(m[1], ""), "1")); err != nil {
						t.Errorf("%s: %v", where, err)
					}
				}
			}
		}
	}
	if seen < 5 {
		t.Errorf("found %d shakedown command lines in the workflows, want the 5 or more they hold", seen)
	}
}

// checkShakedownArgs parses one command line as the CLI would, without running it.
func checkShakedownArgs(line string) error {
	args, err := shellwords.NewParser().Parse(line)
	if err != nil {
		return fmt.Errorf("not a shell command line: %w", err)
	}
	for i, a := range args { // a redirection or pipe ends the command
		if strings.ContainsAny(a[:1], "|>&;") {
			args = args[:i]
			break
		}
	}
	root := newRootCmd()
	cmd, rest, err := root.Find(args[1:])
	if err != nil || cmd == root {
		return fmt.Errorf("no such shakedown command (%v)", err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if cmd.Args != nil {
		if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
			return err
		}
	}
	return cmd.ValidateFlagGroups()
}

func TestCheckShakedownArgsRefusesWhatTheCLIRefuses(t *testing.T) {
	for _, line := range []string{
		"bin/shakedown lint charts/x --output junit",
		"shakedown load --target 1 --token 1 --rate 5 --duration 2m > out.txt",
	} {
		if err := checkShakedownArgs(line); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
	for _, line := range []string{
		"bin/shakedown lint charts/x --no-such-flag",
		"bin/shakedown load --rate fast",
		"bin/shakedown lnt charts/x",
		"bin/shakedown",
	} {
		if err := checkShakedownArgs(line); err == nil {
			t.Errorf("%s: accepted", line)
		}
	}
}
