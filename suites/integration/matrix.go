package integration

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// MatrixFile is where the project keeps its Kubernetes versions, relative to
// the repository root.
const MatrixFile = "fixtures/kubernetes.yaml"

// MatrixVersions reads the versions of the nearest fixtures/kubernetes.yaml
// at or above startDir ({versions: [1.28.15, ...]}).
func MatrixVersions(startDir string) ([]string, error) {
	abs, err := filepath.Abs(startDir)
	if err != nil {
		return nil, fmt.Errorf("integration: %s: %w", startDir, err)
	}
	for dir := abs; ; dir = filepath.Dir(dir) {
		path := filepath.Join(dir, MatrixFile)
		data, err := os.ReadFile(path)
		if err == nil {
			var m struct {
				Versions []string `json:"versions"`
			}
			if err := yaml.UnmarshalStrict(data, &m); err != nil || len(m.Versions) == 0 {
				return nil, fmt.Errorf("integration: version matrix %s: want {versions: [1.28.15, ...]} (err: %v)", path, err)
			}
			return m.Versions, nil
		}
		if filepath.Dir(dir) == dir {
			return nil, fmt.Errorf("integration: no %s at or above %s (fix: pass --kubernetes 1.34.4,...)", MatrixFile, startDir)
		}
	}
}
