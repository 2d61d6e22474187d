package decide

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// propertyJSON is one property filter of a condition group.
type propertyJSON struct {
	Key      string `json:"key"`
	Value    any    `json:"value"`
	Operator string `json:"operator"`
	Type     string `json:"type"`
	// GroupTypeIndex is the group type a "group" filter reads.
	GroupTypeIndex *int `json:"group_type_index"`
}

// operator is a property filter operator, as PostHog names them.
type operator string

// The operators evaluated on person and group properties.
const (
	opExact        operator = "exact"
	opIsNot        operator = "is_not"
	opIContains    operator = "icontains"
	opNotIContains operator = "not_icontains"
	opRegex        operator = "regex"
	opNotRegex     operator = "not_regex"
	opGT           operator = "gt"
	opGTE          operator = "gte"
	opLT           operator = "lt"
	opLTE          operator = "lte"
	opIsSet        operator = "is_set"
	opIsNotSet     operator = "is_not_set"
)

// propertyFilter is a compiled property filter.
type propertyFilter struct {
	key string
	op  operator
	// values are the filter's values, stringified and lower-cased (exact, is_not).
	values []string
	// lower is the single value stringified and lower-cased (icontains...).
	lower string
	// raw is the single value stringified (gt... string comparison).
	raw string
	// num and isNum hold the value as a number when it is one (gt...).
	num   float64
	isNum bool
	// re is the compiled pattern (regex, not_regex); nil when it did not compile,
	// in which case both operators are false, as in PostHog.
	re *regexp.Regexp
	// unsupported says why this filter cannot be evaluated here.
	unsupported string
}

// compileProperty compiles one filter of a flag aggregated by groupIndex
// (personAggregation for a person flag). A filter reading anything other than the
// flag's own subject (the person, or the group of groupIndex) is left unsupported.
func compileProperty(p propertyJSON, groupIndex int) (propertyFilter, error) {
	pf := propertyFilter{key: p.Key, op: operator(p.Operator)}
	if pf.op == "" {
		pf.op = opExact
	}
	if pf.unsupported = unsupportedTarget(p, groupIndex); pf.unsupported != "" {
		return pf, nil
	}
	if p.Key == "" {
		return pf, fmt.Errorf("property filter has no key")
	}
	if list, ok := p.Value.([]any); ok {
		for _, v := range list {
			pf.values = append(pf.values, strings.ToLower(stringify(v)))
		}
		if len(list) > 0 {
			pf.raw = stringify(list[0])
		}
	} else {
		pf.raw = stringify(p.Value)
		pf.values = []string{strings.ToLower(pf.raw)}
	}
	pf.lower = strings.ToLower(pf.raw)
	pf.num, pf.isNum = number(p.Value)
	switch pf.op {
	case opExact, opIsNot, opIContains, opNotIContains, opGT, opGTE, opLT, opLTE, opIsSet, opIsNotSet:
	case opRegex, opNotRegex:
		pf.re, _ = regexp.Compile(pf.raw) // an invalid pattern matches nothing
	default:
		return pf, fmt.Errorf("operator %q is not supported", p.Operator)
	}
	return pf, nil
}

// unsupportedTarget says why filter p cannot be evaluated in a flag aggregated by
// groupIndex, or "" when it reads the flag's own subject.
func unsupportedTarget(p propertyJSON, groupIndex int) string {
	switch {
	case p.Type == "" || p.Type == "person":
		if groupIndex != personAggregation {
			return "person property filters in a group-aggregated flag are not evaluated (PostHog matches a group flag on group properties)"
		}
	case p.Type == "group":
		switch {
		case groupIndex == personAggregation:
			return "group property filters are evaluated only in a flag aggregated by their group type (aggregation_group_type_index)"
		case p.GroupTypeIndex != nil && *p.GroupTypeIndex != groupIndex:
			return fmt.Sprintf("a group property filter on group type index %d in a flag aggregated by group type index %d is not evaluated", *p.GroupTypeIndex, groupIndex)
		}
	default:
		return fmt.Sprintf("%s property filters are not evaluated", p.Type)
	}
	return ""
}

// match evaluates the filter against props. A property absent from props matches
// only is_not_set.
func (pf *propertyFilter) match(props map[string]any) bool {
	v, ok := props[pf.key]
	switch pf.op {
	case opIsSet:
		return ok
	case opIsNotSet:
		return !ok
	}
	if !ok {
		return false
	}
	switch pf.op {
	case opExact:
		return pf.anyEqual(v)
	case opIsNot:
		return !pf.anyEqual(v)
	case opIContains:
		return strings.Contains(strings.ToLower(stringify(v)), pf.lower)
	case opNotIContains:
		return !strings.Contains(strings.ToLower(stringify(v)), pf.lower)
	case opRegex:
		return pf.re != nil && pf.re.MatchString(stringify(v))
	case opNotRegex:
		return pf.re != nil && !pf.re.MatchString(stringify(v))
	case opGT, opGTE, opLT, opLTE:
		return pf.compare(v)
	}
	return false
}

func (pf *propertyFilter) anyEqual(v any) bool {
	s := strings.ToLower(stringify(v))
	for _, want := range pf.values {
		if s == want {
			return true
		}
	}
	return false
}

// compare orders v against the filter value: numerically when both are numbers
// (numeric strings included), else as strings.
func (pf *propertyFilter) compare(v any) bool {
	var c int
	if n, ok := number(v); ok && pf.isNum {
		switch {
		case n < pf.num:
			c = -1
		case n > pf.num:
			c = 1
		}
	} else {
		c = strings.Compare(stringify(v), pf.raw)
	}
	switch pf.op {
	case opGT:
		return c > 0
	case opGTE:
		return c >= 0
	case opLT:
		return c < 0
	default:
		return c <= 0
	}
}

// stringify renders a JSON value the way filters compare it: strings as-is, numbers
// in their JSON text, booleans as true/false, null as "", anything else as JSON.
func stringify(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// number returns v as a float64 when it is a JSON number or a string holding one.
func number(v any) (float64, bool) {
	var s string
	switch t := v.(type) {
	case json.Number:
		s = t.String()
	case float64:
		return t, true
	case string:
		s = strings.TrimSpace(t)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
