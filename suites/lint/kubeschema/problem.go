package kubeschema

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
)

// ProblemKind classifies a [Problem].
type ProblemKind string

// The kinds of problems.
const (
	// Required: a required field is missing (or null).
	Required ProblemKind = "Required"
	// Enum: a value outside the field's allowed values.
	Enum ProblemKind = "Enum"
	// Type: a value of the wrong JSON type.
	Type ProblemKind = "Type"
	// Format: a string or number of the right type but the wrong form:
	// base64, date-time, quantity, int32 range.
	Format ProblemKind = "Format"
	// Unknown: a field the schema does not declare.
	Unknown ProblemKind = "Unknown"
	// Other: any other schema violation (lengths, patterns, item counts...).
	Other ProblemKind = "Other"
)

// Problem is one schema violation of an object.
type Problem struct {
	// Path is the Kubernetes field path, e.g. spec.template.spec.containers[0].ports[0].port,
	// with map keys in brackets: metadata.labels[app], data[tls.crt]. Empty for the object itself.
	Path string
	// Kind classifies the violation.
	Kind ProblemKind
	// Message says what is wrong, without the path, e.g. `Required value`.
	Message string
}

// String returns "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// sortProblems orders problems by path, kind and message and drops duplicates.
func sortProblems(ps []Problem) []Problem {
	slices.SortFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(ps)
}

// problemError is a Problem carried through a kube-openapi validate.Result.
type problemError struct{ Problem }

func (e *problemError) Error() string { return e.String() }

// problemsOf converts the errors of a kube-openapi validation result.
func problemsOf(errs []error) []Problem {
	ps := make([]Problem, 0, len(errs))
	for _, err := range errs {
		ps = append(ps, problemOf(err))
	}
	return ps
}

// problemOf converts one kube-openapi validation error into a Problem.
func problemOf(err error) Problem {
	switch e := err.(type) {
	case *problemError:
		return e.Problem
	case *openapierrors.Validation:
		path := strings.TrimPrefix(e.Name, ".")
		if path == "." {
			path = ""
		}
		switch e.Code() {
		case openapierrors.RequiredFailCode:
			return Problem{Path: path, Kind: Required, Message: "Required value"}
		case openapierrors.EnumFailCode:
			return Problem{Path: path, Kind: Enum, Message: notSupported(e.Value, e.Values)}
		case openapierrors.InvalidTypeCode:
			if got, ok := e.Value.(string); ok {
				return Problem{Path: path, Kind: Type, Message: fmt.Sprintf("Invalid type: got %s, want %s", got, typeWanted(e.Error()))}
			}
			return Problem{Path: path, Kind: Type, Message: detail(e)}
		}
		return Problem{Path: path, Kind: Other, Message: detail(e)}
	}
	return Problem{Kind: Other, Message: err.Error()}
}

// notSupported formats an enum violation the way the API server does.
func notSupported(value any, allowed []any) string {
	values := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if s, ok := a.(string); ok {
			values = append(values, s)
			continue
		}
		b, _ := json.Marshal(a)
		values = append(values, string(b))
	}
	return field.NotSupported(nil, value, values).ErrorBody()
}

// typeWanted extracts the expected type from a kube-openapi type message
// ("x in body must be of type integer: \"string\"").
func typeWanted(msg string) string {
	_, after, ok := strings.Cut(msg, "must be of type ")
	if !ok {
		return "another type"
	}
	want, _, _ := strings.Cut(after, ":")
	return strings.ReplaceAll(strings.TrimSpace(want), ",", " or ")
}

// detail strips the "<name> in body " prefix of a kube-openapi message.
func detail(e *openapierrors.Validation) string {
	msg := e.Error()
	for _, prefix := range []string{e.Name + " in " + e.In + " ", e.Name + " "} {
		if rest, ok := strings.CutPrefix(msg, prefix); ok && e.Name != "" {
			return rest
		}
	}
	return msg
}
