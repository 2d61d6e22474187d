package local

import (
	"os/exec"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

// startProcess starts bin with args as a child bound to this process's life.
func startProcess(name, logPath, bin string, args ...string) (*procs.Process, error) {
	return procs.Start(name, logPath, exec.Command(bin, args...))
}
