package lint

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// matrixFileName is where the project keeps its Kubernetes version matrix,
// relative to the repository root.
const matrixFileName = "fixtures/kubernetes.yaml"

// builtinKubeVersions is used when no matrix file can be found.
func builtinKubeVersions() []string { return []string{"1.28.15", "1.30.14", "1.34.4"} }

// matrix is the content of fixtures/kubernetes.yaml.
type matrix struct {
	Versions []string `json:"versions"`
}

// matrixVersions reads the versions of the matrix file, or of the first
// fixtures/kubernetes.yaml above startDir, or the built-in versions.
func matrixVersions(file, startDir string) ([]string, error) {
	if file == "" {
		file = findUp(startDir, matrixFileName)
	}
	if file == "" {
		return builtinKubeVersions(), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: read version matrix: %v", ErrInvalidOptions, err)
	}
	var m matrix
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, fmt.Errorf("%w: version matrix %s: %v; expected {versions: [1.28.15, ...]} (quote MAJOR.MINOR versions: \"1.30\")", ErrInvalidOptions, file, err)
	}
	if len(m.Versions) == 0 {
		return nil, fmt.Errorf("%w: version matrix %s lists no versions; expected {versions: [1.28.15, ...]}", ErrInvalidOptions, file)
	}
	return m.Versions, nil
}

// findUp returns dir/rel for the nearest ancestor dir of start that has it, or "".
func findUp(start, rel string) string {
	for dir := start; ; {
		candidate := filepath.Join(dir, rel)
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
