package kubeschema

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// Validate checks obj, a JSON-like object (as decoded from YAML or JSON, with
// apiVersion and kind), against the schema of its kind on this version.
// Problems are sorted by path. ok is false when the version has no schema for
// the apiVersion and kind: a custom resource, or a kind this version does not
// serve (see [Spec.Serves] and [Spec.APIVersionsFor]). The error is only for
// a spec that cannot be read.
func (sp *Spec) Validate(obj map[string]any) (problems []Problem, ok bool, err error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, false, nil
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, nil
	}
	sc, err := sp.schemasFor(gv)
	if err != nil {
		return nil, false, err
	}
	k := gvk{Group: gv.Group, Version: gv.Version, Kind: kind}
	root := sc.defs[sc.kinds[k]]
	if root == nil {
		return nil, false, nil
	}
	w := &walker{defs: sc.defs, formats: sp.formats, where: sp.describe(k)}
	return w.run(root, cleanCopy(obj)), true, nil
}

// walker validates one object. kube-openapi's validator does not follow
// $ref, so every child validator is created here (through the
// NewValidatorForField/Index hooks), resolving references as it goes; it
// also builds Kubernetes field paths and finds undeclared fields.
type walker struct {
	defs    map[string]*spec.Schema
	formats strfmt.Registry
	where   string // what the schema is, for unknown-field messages
}

// run validates data against root and returns the sorted problems.
func (w *walker) run(root *spec.Schema, data any) (problems []Problem) {
	defer func() {
		if r := recover(); r != nil { // kube-openapi panics on schemas it does not support
			problems = append(problems, Problem{Kind: Other, Message: fmt.Sprintf("schema of %s not supported by the validator: %v", w.where, r)})
		}
	}()
	res := w.node(root, "").Validate(data)
	return sortProblems(problemsOf(res.Errors))
}

func (w *walker) node(s *spec.Schema, path string) *node {
	return &node{w: w, schema: s, path: path}
}

// hooks makes kube-openapi create the children of parent (at path) with w.
func (w *walker) hooks(parent *spec.Schema, path string) validate.Option {
	return func(o *validate.SchemaValidatorOptions) {
		o.NewValidatorForField = func(field string, child *spec.Schema, _ any, _ string, _ strfmt.Registry, _ ...validate.Option) validate.ValueValidator {
			if _, declared := parent.Properties[field]; declared {
				return w.node(child, joinPath(path, field))
			}
			return w.node(child, path+"["+field+"]")
		}
		o.NewValidatorForIndex = func(i int, child *spec.Schema, _ any, _ string, _ strfmt.Registry, _ ...validate.Option) validate.ValueValidator {
			return w.node(child, path+"["+strconv.Itoa(i)+"]")
		}
	}
}

// resolve follows $refs; name is the last definition name followed, "" for
// an inline schema. s is nil for a reference to a missing definition.
func (w *walker) resolve(s *spec.Schema) (_ *spec.Schema, name string) {
	for range 16 {
		ref := s.Ref.String()
		if ref == "" {
			return s, name
		}
		name = ref[strings.LastIndexByte(ref, '/')+1:]
		if s = w.defs[name]; s == nil {
			return nil, name
		}
	}
	return nil, name
}

// node validates one value at path against one schema.
type node struct {
	w      *walker
	schema *spec.Schema
	path   string
}

func (n *node) SetPath(path string)                 { n.path = path }
func (n *node) Applies(any, reflect.Kind) bool      { return true }
func (n *node) add(res *validate.Result, p Problem) { res.AddErrors(&problemError{p}) }

// Validate checks data: Kubernetes' own JSON types and formats here, the
// rest with kube-openapi's SchemaValidator.
func (n *node) Validate(data any) *validate.Result {
	res := new(validate.Result)
	s, name := n.w.resolve(n.schema)
	if s == nil {
		return res // a reference this spec does not define: nothing to check against
	}
	switch special(name, s) {
	case anyValue:
		return res
	case intOrString:
		switch data.(type) {
		case string, int64:
		default:
			n.add(res, Problem{Path: n.path, Kind: Type, Message: fmt.Sprintf("Invalid type: got %s, want integer or string", jsonType(data))})
		}
		return res
	case quantity:
		switch v := data.(type) {
		case int64, float64:
		case string:
			if _, err := resource.ParseQuantity(v); err != nil {
				n.add(res, Problem{Path: n.path, Kind: Format, Message: fmt.Sprintf("Invalid value: %q: %v", v, err)})
			}
		default:
			n.add(res, Problem{Path: n.path, Kind: Type, Message: fmt.Sprintf("Invalid type: got %s, want string or number", jsonType(data))})
		}
		return res
	}
	if len(s.Type) == 1 && s.Type[0] == "integer" && s.Minimum == nil && s.Maximum == nil && s.MultipleOf == nil && len(s.Enum) == 0 {
		n.checkInteger(res, s.Format, data)
		return res
	}
	switch v := data.(type) {
	case string:
		n.checkFormat(res, s.Format, v)
		if v == "" && len(s.Enum) > 0 { // the API server defaults an empty enum field
			c := *s
			c.Enum = nil
			s = &c
		}
	case map[string]any:
		if closed(s) {
			for key := range v {
				if _, declared := s.Properties[key]; !declared {
					n.add(res, Problem{Path: joinPath(n.path, key), Kind: Unknown, Message: "field not declared in the schema of " + n.w.where})
				}
			}
		}
		if len(s.Properties) > 2*len(v) {
			s = onlyPresent(s, v)
		}
	}
	sv := validate.NewSchemaValidator(s, nil, n.path, n.w.formats, n.w.hooks(s, n.path))
	res.Merge(sv.Validate(data))
	return res
}

// onlyPresent returns a copy of s whose properties are those present in
// data. kube-openapi copies every declared property schema on each object it
// validates, present or not; PodSpec alone declares about 40.
func onlyPresent(s *spec.Schema, data map[string]any) *spec.Schema {
	c := *s
	c.Properties = make(map[string]spec.Schema, len(data))
	for key := range data {
		if p, ok := s.Properties[key]; ok {
			c.Properties[key] = p
		}
	}
	return &c
}

// checkFormat checks the string formats the API server enforces when it
// decodes built-in types: byte ([]byte, base64) and date-time (metav1.Time).
func (n *node) checkFormat(res *validate.Result, format, v string) {
	switch format {
	case "byte":
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			n.add(res, Problem{Path: n.path, Kind: Format, Message: err.Error() + " (want base64, e.g. from b64enc; use stringData for plain text)"})
		}
	case "date-time":
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			n.add(res, Problem{Path: n.path, Kind: Format, Message: fmt.Sprintf("Invalid value: %q: want an RFC 3339 date-time such as 2006-01-02T15:04:05Z", v)})
		}
	}
}

// checkInteger checks an integer field: its type and the range of its
// format (int32 or int64), which the API server's decoder enforces.
func (n *node) checkInteger(res *validate.Result, format string, data any) {
	v, ok := data.(int64)
	if !ok {
		n.add(res, Problem{Path: n.path, Kind: Type, Message: fmt.Sprintf("Invalid type: got %s, want integer", jsonType(data))})
		return
	}
	if format == "int32" && (v < math.MinInt32 || v > math.MaxInt32) {
		n.add(res, Problem{Path: n.path, Kind: Format, Message: fmt.Sprintf("Invalid value: %d: must fit in int32 (%d to %d)", v, math.MinInt32, math.MaxInt32)})
	}
}

// specialKind marks Kubernetes JSON types the OpenAPI schema describes badly.
type specialKind int

const (
	ordinary    specialKind = iota
	anyValue                // RawExtension, apiextensions JSON: any value
	intOrString             // intstr.IntOrString: an integer or a string
	quantity                // resource.Quantity: a quantity string or a number
)

// special classifies a resolved schema by its definition name and shape.
func special(name string, s *spec.Schema) specialKind {
	switch name {
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		return intOrString
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		return quantity
	case "io.k8s.apimachinery.pkg.runtime.RawExtension",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1beta1.JSON",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1beta1.JSONSchemaPropsOrArray",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1beta1.JSONSchemaPropsOrBool",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
		"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1beta1.JSONSchemaPropsOrStringArray":
		return anyValue
	}
	if s.Format == "int-or-string" || flag(s, extIntOrString) {
		return intOrString
	}
	if len(s.Type) == 0 && len(s.Properties) == 0 && flag(s, extPreserveUnknown) {
		return anyValue
	}
	return ordinary
}

// closed reports whether an object schema lists all its fields: it has
// properties, no additionalProperties and does not preserve unknown fields.
func closed(s *spec.Schema) bool {
	return len(s.Properties) > 0 && s.AdditionalProperties == nil &&
		!flag(s, extPreserveUnknown) && !flag(s, extEmbeddedResource)
}

// jsonType names the JSON type of a cleaned value.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// joinPath appends a field name to a path.
func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// flag reports whether the boolean extension ext is true on s.
func flag(s *spec.Schema, ext string) bool {
	v, _ := s.Extensions.GetBool(ext)
	return v
}
