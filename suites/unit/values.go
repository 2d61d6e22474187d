package unit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// userValues merges values files (in order) and then `set` entries, suite
// first and case second, into the values a case renders with.
func userValues(dir string, files []string, sets ...map[string]any) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, f)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read values file %s: %w (paths are relative to the suite file)", f, err)
		}
		v := map[string]any{}
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("parse values file %s: %w", f, err)
		}
		base = mergeValues(base, v)
	}
	for _, set := range sets {
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			tree, err := buildSetPath(k, set[k])
			if err != nil {
				return nil, err
			}
			base = mergeValues(base, tree)
		}
	}
	return base, nil
}

// mergeValues deep-merges src over dst: maps merge, anything else replaces.
func mergeValues(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

// setStep is one step of a set path: a map key or a list index.
type setStep struct {
	key   string
	index int
	isIdx bool
}

// buildSetPath turns `a.b[0].c` (or `a.[key.with.dots]`) and a value into
// the nested values tree helm-unittest's `set` builds.
func buildSetPath(p string, value any) (map[string]any, error) {
	steps, err := parseSetPath(p)
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 || steps[0].isIdx {
		return nil, fmt.Errorf("set path %q must start with a key (like image.tag)", p)
	}
	var cur any = value
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		if s.isIdx {
			l := make([]any, s.index+1)
			l[s.index] = cur
			cur = l
			continue
		}
		cur = map[string]any{s.key: cur}
	}
	return cur.(map[string]any), nil
}

// parseSetPath splits a set path into steps.
func parseSetPath(p string) ([]setStep, error) {
	var steps []setStep
	i := 0
	bad := func(why string) error {
		return fmt.Errorf("set path %q: %s (use a.b[0].c, or a.[key.with.dots] for dotted keys)", p, why)
	}
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, bad("missing ]")
			}
			inner := p[i+1 : i+end]
			if n, err := strconv.Atoi(inner); err == nil {
				if n < 0 {
					return nil, bad("negative index")
				}
				steps = append(steps, setStep{index: n, isIdx: true})
			} else {
				inner = strings.Trim(inner, `"'`)
				if inner == "" {
					return nil, bad("empty key")
				}
				steps = append(steps, setStep{key: inner})
			}
			i += end + 1
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			steps = append(steps, setStep{key: p[i:j]})
			i = j
		}
	}
	return steps, nil
}
