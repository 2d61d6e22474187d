// Command pause is the sandbox process of a pod on shakedown's real nodes: the process
// that holds a pod's namespaces while its containers come and go (the role of
// Kubernetes' own pause image, which cannot be pulled where no registry is reachable).
// It sleeps, reaps children that end up re-parented to it, and exits on SIGINT or
// SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
