package kubeschema

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// specFiles says where the spec of one version lives.
type specFiles struct {
	// v3Dir holds the OpenAPI v3 files, one per group-version
	// (api__v1_openapi.json, apis__apps__v1_openapi.json). Empty when the
	// version only has OpenAPI v2.
	v3Dir string
	// v2File is swagger.json, used when v3Dir is empty.
	v2File string
	// goDefs is pkg/generated/openapi/zz_generated.openapi.go, the source of
	// enum values; empty when absent (before 1.24).
	goDefs string
}

// filesIn finds the spec files under root, laid out like the
// k8s.io/kubernetes module or flat. The error wraps ErrNoSpec when there is
// neither a v3 directory nor swagger.json.
func filesIn(root string) (specFiles, error) {
	var f specFiles
	for _, dir := range []string{filepath.Join(root, "api", "openapi-spec", "v3"), root} {
		if names, _ := filepath.Glob(filepath.Join(dir, "api__v1_openapi.json")); len(names) > 0 {
			f.v3Dir = dir
			break
		}
	}
	if f.v3Dir == "" {
		for _, name := range []string{filepath.Join(root, "api", "openapi-spec", "swagger.json"), filepath.Join(root, "swagger.json")} {
			if isFile(name) {
				f.v2File = name
				break
			}
		}
	}
	if f.v3Dir == "" && f.v2File == "" {
		return f, fmt.Errorf("%w: neither api/openapi-spec/v3/api__v1_openapi.json nor api/openapi-spec/swagger.json", ErrNoSpec)
	}
	for _, name := range []string{filepath.Join(root, "pkg", "generated", "openapi", "zz_generated.openapi.go"), filepath.Join(root, "zz_generated.openapi.go")} {
		if isFile(name) {
			f.goDefs = name
			break
		}
	}
	return f, nil
}

func isFile(name string) bool {
	st, err := os.Stat(name)
	return err == nil && st.Mode().IsRegular()
}

// v3FileName is the name of the v3 file of a group-version:
// "v1" → api__v1_openapi.json, "apps/v1" → apis__apps__v1_openapi.json.
func v3FileName(group, version string) string {
	if group == "" {
		return "api__" + version + "_openapi.json"
	}
	return "apis__" + group + "__" + version + "_openapi.json"
}

// parseV3FileName reverses v3FileName; ok is false for other files (group
// discovery files such as apis__apps_openapi.json).
func parseV3FileName(name string) (group, version string, ok bool) {
	base, found := strings.CutSuffix(name, "_openapi.json")
	if !found {
		return "", "", false
	}
	parts := strings.Split(base, "__")
	switch {
	case len(parts) == 2 && parts[0] == "api":
		return "", parts[1], true
	case len(parts) == 3 && parts[0] == "apis":
		return parts[1], parts[2], true
	}
	return "", "", false
}

// v3GroupVersions lists the group-versions that have a file in dir.
func v3GroupVersions(dir string) ([][2]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var gvs [][2]string
	for _, e := range entries {
		if g, v, ok := parseV3FileName(e.Name()); ok {
			gvs = append(gvs, [2]string{g, v})
		}
	}
	return gvs, nil
}
