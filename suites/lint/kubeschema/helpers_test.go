package kubeschema

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// Versions whose k8s.io/kubernetes module the tests use; both are in the
// module cache of the development machine, otherwise they are downloaded.
const (
	newVersion = "1.34.4"
	oldVersion = "1.28.15"
)

// loadSpec returns the spec of version from a fresh Source.
func loadSpec(t testing.TB, version string) *Spec {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sp, err := NewSource(SourceOptions{}).Spec(ctx, version)
	if err != nil {
		t.Fatalf("load spec %s: %v (needs the Go module proxy or k8s.io/kubernetes@v%s in the module cache)", version, err, version)
	}
	return sp
}

// object decodes a YAML document the way the lint layer does.
func object(t testing.TB, doc string) map[string]any {
	t.Helper()
	data, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	obj := map[string]any{}
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	return obj
}

// check validates doc against sp and requires a schema for it.
func check(t testing.TB, sp *Spec, doc string) []Problem {
	t.Helper()
	problems, ok, err := sp.Validate(object(t, doc))
	if err != nil {
		t.Fatalf("Validate on %s: %v", sp.Version(), err)
	}
	if !ok {
		t.Fatalf("Validate on %s: no schema for\n%s", sp.Version(), doc)
	}
	return problems
}

// mustFind returns the problem at path, failing the test when there is none
// or it is of another kind.
func mustFind(t testing.TB, problems []Problem, path string, kind ProblemKind) Problem {
	t.Helper()
	for _, p := range problems {
		if p.Path == path {
			if p.Kind != kind {
				t.Fatalf("problem at %s is %s, want %s: %s", path, p.Kind, kind, p)
			}
			return p
		}
	}
	t.Fatalf("no %s problem at %s; got:\n%s", kind, path, list(problems))
	return Problem{}
}

func list(problems []Problem) string {
	var b strings.Builder
	for _, p := range problems {
		b.WriteString("  " + string(p.Kind) + " " + p.String() + "\n")
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}
