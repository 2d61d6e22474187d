package local

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shakedown-dev/shakedown/internal/procs"
)

// stageFiles are kwok Stage configurations: without them kwok leaves fake nodes
// NotReady and pods Pending.
//
//go:embed stages/*.yaml
var stageFiles embed.FS

// stageNames lists the Stages in the order they are written.
func stageNames() []string {
	return []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete"}
}

// kwokNodeAnnotation marks the nodes kwok manages; nodes without it are left alone.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// writeStages writes all Stages as one multi-document YAML file.
func writeStages(path string) error {
	var buf bytes.Buffer
	for _, name := range stageNames() {
		data, err := stageFiles.ReadFile("stages/" + name + ".yaml")
		if err != nil {
			return fmt.Errorf("kwok stage %s: %w", name, err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write kwok stages %s: %w", path, err)
	}
	return nil
}

// startKwok runs kwok managing the nodes annotated kwokNodeAnnotation=fake, with pod
// IPs from podCIDR. It has no health endpoint: callers wait for the nodes to be Ready.
func startKwok(bin, dir, kubeconfig, podCIDR string) (*procs.Process, error) {
	stages := filepath.Join(dir, "kwok-stages.yaml")
	if err := writeStages(stages); err != nil {
		return nil, err
	}
	return startProcess("kwok", filepath.Join(dir, "kwok.log"), bin,
		"--kubeconfig="+kubeconfig,
		"--config="+stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+kwokNodeAnnotation+"=fake",
		"--cidr="+podCIDR,
		"--node-lease-duration-seconds=40",
	)
}
