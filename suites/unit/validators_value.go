package unit

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// decoded applies decodeBase64 when asked.
func decoded(a *assertion, v any) (any, error) {
	if !a.params.DecodeBase64 {
		return v, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("decodeBase64 needs a string at %s, got %T", a.params.Path, v)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("value at %s is not base64: %w", a.params.Path, err)
	}
	return string(b), nil
}

// validateEqual: the value at path equals `value`.
func validateEqual(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		return eachValue(a, d, c.negative, func(v any) (bool, []string) {
			v, err := decoded(a, v)
			if err != nil {
				return false, errorInfo("%v", err)
			}
			if deepEqual(v, a.params.Value) != c.negative {
				return true, nil
			}
			return false, expectInfo(a.params.Path, to(c.negative)+" equal", a.params.Value, v, !c.negative)
		})
	})
}

// validateContains: the list at path contains `content` (count times).
func validateContains(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		return eachValue(a, d, false, func(v any) (bool, []string) {
			list, ok := v.([]any)
			if !ok {
				return false, errorInfo("expect '%s' to be an array, got:\n%s", a.params.Path, toYAML(v))
			}
			found := 0
			for _, el := range list {
				if a.params.Any {
					if em, ok := el.(map[string]any); ok {
						if cm, ok := a.params.Content.(map[string]any); ok && isSubset(em, cm) {
							found++
						}
					}
					continue
				}
				if deepEqual(el, a.params.Content) {
					found++
				}
			}
			holds := found > 0
			if a.params.Count != nil {
				holds = found == *a.params.Count
			}
			if holds != c.negative {
				return true, nil
			}
			if a.params.Count != nil && !c.negative && found > 0 {
				return false, errorInfo("expect count %d in '%s' to be in array, got %d:\n%s", *a.params.Count, a.params.Path, found, toYAML(list))
			}
			return false, expectInfo(a.params.Path, to(c.negative)+" contain", []any{a.params.Content}, list, true)
		})
	})
}

// isSubset is helm-unittest's validateSubset (isSubset, and contains with
// any: true): every top-level key of want must equal have's value for that
// key as a whole. It is shallow: a nested map in want must match the nested
// map in have entirely, not be a part of it. A key missing from have reads as
// null, so `key: null` in want matches it.
func isSubset(have, want map[string]any) bool {
	for k, wv := range want {
		if !deepEqual(have[k], wv) {
			return false
		}
	}
	return true
}

// validateIsSubset: the map at path includes `content`.
func validateIsSubset(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		return eachValue(a, d, false, func(v any) (bool, []string) {
			m, ok := v.(map[string]any)
			cm, cok := a.params.Content.(map[string]any)
			if !ok || !cok {
				return false, errorInfo("expect '%s' and content to be objects, got:\n%s", a.params.Path, toYAML(v))
			}
			if isSubset(m, cm) != c.negative {
				return true, nil
			}
			return false, expectInfo(a.params.Path, to(c.negative)+" contain", cm, m, true)
		})
	})
}

// validateExists: the path selects something (exists / notExists).
func validateExists(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		vals, err := a.path.find(d)
		if err != nil {
			return false, errorInfo("%v", err)
		}
		if (len(vals) > 0) != c.negative {
			return true, nil
		}
		word := "exist"
		if c.negative {
			word = "NOT exist"
		}
		return false, []string{fmt.Sprintf("Path:\t%s expected to %s", a.params.Path, word)}
	})
}

// validateIsNull: the path is missing or null (isNull / isNotNull).
func validateIsNull(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		vals, err := a.path.find(d)
		if err != nil {
			return false, errorInfo("%v", err)
		}
		null := true
		for _, v := range vals {
			if v != nil {
				null = false
			}
		}
		if null != c.negative {
			return true, nil
		}
		var actual any
		if len(vals) > 0 {
			actual = vals[0]
		}
		return false, expectInfo(a.params.Path, to(c.negative)+" be null", nil, actual, true)
	})
}

// isEmptyValue is helm-unittest's null-or-empty: nil, "", 0, false, {} or [].
func isEmptyValue(v any) bool {
	if v == nil {
		return true
	}
	return reflect.ValueOf(v).IsZero() || (reflect.ValueOf(v).Kind() == reflect.Map || reflect.ValueOf(v).Kind() == reflect.Slice) && reflect.ValueOf(v).Len() == 0
}

// validateIsEmpty: the value is null or empty (isEmpty / isNotEmpty).
func validateIsEmpty(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		vals, err := a.path.find(d)
		if err != nil {
			return false, errorInfo("%v", err)
		}
		// As helm-unittest: a missing path fails isEmpty / isNullOrEmpty
		// and passes their negations.
		if len(vals) == 0 {
			if c.negative {
				return true, nil
			}
			return false, errorInfo("unknown path %s", a.params.Path)
		}
		passed := true
		var info []string
		for _, v := range vals {
			if isEmptyValue(v) == c.negative {
				passed = false
				info = append(info, "Path:\t"+a.params.Path, "Expected "+to(c.negative)+" be null or empty, got:")
				info = append(info, indentLines(toYAML(v))...)
			}
		}
		return passed, info
	})
}

// validateMatchRegex: the string at path matches `pattern`.
func validateMatchRegex(a *assertion, c *vctx) (bool, []string) {
	re, err := regexp.Compile(a.params.Pattern)
	if err != nil {
		return false, errorInfo("pattern %q does not compile: %v", a.params.Pattern, err)
	}
	return eachDoc(c, func(d *document) (bool, []string) {
		return eachValue(a, d, false, func(v any) (bool, []string) {
			v, err := decoded(a, v)
			if err != nil {
				return false, errorInfo("%v", err)
			}
			s, ok := v.(string)
			if !ok {
				return false, errorInfo("expect '%s' to be a string, got:\n%s", a.params.Path, toYAML(v))
			}
			if re.MatchString(s) != c.negative {
				return true, nil
			}
			return false, expectInfo(a.params.Path, to(c.negative)+" match", a.params.Pattern, s, true)
		})
	})
}

// validateLengthEqual: the list at path (or every list at paths) has count items.
func validateLengthEqual(a *assertion, c *vctx) (bool, []string) {
	paths := a.params.Paths
	if a.params.Path != "" {
		if len(paths) > 0 {
			return false, errorInfo("'paths' cannot be used with 'path'")
		}
		if a.params.Count == nil {
			return false, errorInfo("'count' must be set when 'path' is used")
		}
		paths = []string{a.params.Path}
	}
	if len(paths) == 0 {
		return false, errorInfo("lengthEqual needs 'path' and 'count', or 'paths'")
	}
	compiled := make([]*compiledPath, len(paths))
	for i, p := range paths {
		cp, err := compilePath(p)
		if err != nil {
			return false, errorInfo("%v", err)
		}
		compiled[i] = cp
	}
	return eachDoc(c, func(d *document) (bool, []string) {
		want := -1
		if a.params.Count != nil {
			want = *a.params.Count
		}
		holds := true
		var detail []string
		for i, cp := range compiled {
			vals, err := cp.find(d)
			if err != nil || len(vals) == 0 {
				return false, errorInfo("unknown path %s", paths[i])
			}
			list, ok := vals[0].([]any)
			if !ok {
				return false, errorInfo("%s is not an array", paths[i])
			}
			if want == -1 {
				want = len(list)
			}
			if len(list) != want {
				holds = false
				detail = append(detail, fmt.Sprintf("%s count doesn't match as expected. expected: %d actual: %d", paths[i], want, len(list)))
			}
		}
		if holds != c.negative {
			return true, nil
		}
		if c.negative {
			return false, errorInfo("expected lengths to differ, all are %d", want)
		}
		return false, errorInfo("%s", strings.Join(detail, "\n"))
	})
}

// typeName is the Go type name helm-unittest's isType compares against.
func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

// typeMatches accepts Go type names and common aliases.
func typeMatches(v any, want string) bool {
	got := typeName(v)
	if got == want {
		return true
	}
	switch strings.ToLower(want) {
	case "string", "str":
		return got == "string"
	case "int", "integer", "int64":
		return got == "int" || got == "int64" || got == "uint64"
	case "float", "float64", "number":
		return got == "float64" || (want == "number" && (got == "int" || got == "int64"))
	case "bool", "boolean":
		return got == "bool"
	case "map", "object", "dict", "map[string]interface {}", "map[string]any":
		return got == "map[string]interface {}"
	case "slice", "array", "list", "[]interface {}", "[]any":
		return got == "[]interface {}"
	case "nil", "null":
		return v == nil
	}
	return false
}

// validateIsType: the value at path has Go type (or alias) `type`.
func validateIsType(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		return eachValue(a, d, false, func(v any) (bool, []string) {
			if typeMatches(v, a.params.Type) != c.negative {
				return true, nil
			}
			return false, expectInfo(a.params.Path, to(c.negative)+" be of type", a.params.Type, typeName(v), true)
		})
	})
}

// orderFailure says why actual and expected cannot be ordered, or "".
// As helm-unittest, both must have the same type (YAML int, float or string:
// an int is not compared with a float) and strings are compared as strings,
// so "1" >= "500m" is false: quantities are not parsed.
func orderFailure(actual, expected any) string {
	at, et := reflect.TypeOf(actual), reflect.TypeOf(expected)
	if at != et {
		return fmt.Sprintf("actual '%v' and expected '%v' types do not match", at, et)
	}
	switch expected.(type) {
	case string, int, float64:
		return ""
	}
	return fmt.Sprintf("unsupported type '%T'", expected)
}

// compareOrdered returns -1, 0 or 1; orderFailure must have passed.
func compareOrdered(actual, expected any) int {
	switch e := expected.(type) {
	case string:
		return strings.Compare(actual.(string), e)
	case int:
		return cmpOrdered(actual.(int), e)
	case float64:
		return cmpOrdered(actual.(float64), e)
	}
	return 0
}

func cmpOrdered[T int | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// validateOrder is greaterOrEqual (sign 1) or lessOrEqual (sign -1). A
// missing path fails, and passes the negated form, as in helm-unittest.
func validateOrder(sign int, word string) validateFunc {
	return func(a *assertion, c *vctx) (bool, []string) {
		return eachDoc(c, func(d *document) (bool, []string) {
			return eachValue(a, d, c.negative, func(v any) (bool, []string) {
				if why := orderFailure(v, a.params.Value); why != "" {
					return false, errorInfo("%s", why)
				}
				holds := compareOrdered(v, a.params.Value)*sign >= 0
				if holds != c.negative {
					return true, nil
				}
				is := "is not"
				if holds {
					is = "is"
				}
				return false, []string{
					"Path:\t" + a.params.Path,
					"Expected " + to(c.negative) + " be " + word + ", got:",
					fmt.Sprintf("\tthe actual '%v' %s %s the expected '%v'", v, is, word, a.params.Value),
				}
			})
		})
	}
}

// validateGreaterOrEqual: the value at path is >= `value`.
func validateGreaterOrEqual(a *assertion, c *vctx) (bool, []string) {
	return validateOrder(1, "greater or equal to")(a, c)
}

// validateLessOrEqual: the value at path is <= `value`.
func validateLessOrEqual(a *assertion, c *vctx) (bool, []string) {
	return validateOrder(-1, "less or equal to")(a, c)
}
