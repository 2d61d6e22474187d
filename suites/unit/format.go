package unit

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// toYAML renders a value the way helm-unittest shows and snapshots it:
// YAML with two-space indentation.
func toYAML(v any) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	_ = enc.Close()
	return buf.String()
}

// indentLines prefixes each line of s with a tab, for failure details.
func indentLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "\t" + l
	}
	return lines
}

// normalize makes YAML-decoded values comparable: every number becomes a
// float64 so that 1 and 1.0 (or int and uint64) compare equal.
func normalize(v any) any {
	switch t := v.(type) {
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	case int32:
		return float64(t)
	case float32:
		return float64(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalize(x)
		}
		return out
	}
	return v
}

// deepEqual compares two YAML-decoded values.
func deepEqual(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// to returns "to" or "NOT to" for failure messages.
func to(negative bool) string {
	if negative {
		return "NOT to"
	}
	return "to"
}

// errorInfo formats an error the way helm-unittest prints it.
func errorInfo(format string, args ...any) []string {
	return append([]string{"Error:"}, indentLines(fmt.Sprintf(format, args...))...)
}

// expectInfo formats "Path / Expected ... / Actual" failure details.
func expectInfo(path, expectation string, expected any, actual any, showActual bool) []string {
	var out []string
	if path != "" {
		out = append(out, "Path:\t"+path)
	}
	out = append(out, "Expected "+expectation+":")
	out = append(out, indentLines(toYAML(expected))...)
	if showActual {
		out = append(out, "Actual:")
		out = append(out, indentLines(toYAML(actual))...)
	}
	return out
}
