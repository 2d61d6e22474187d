package kubeschema

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// CRDValidator validates custom resources against the schemas of one
// CustomResourceDefinition, the way the API server does. Safe for concurrent
// use.
type CRDValidator struct {
	name     string // metadata.name of the CRD
	group    string
	kind     string
	versions map[string]*crdVersion
}

// crdVersion is one version of a CRD.
type crdVersion struct {
	served     bool
	structural *structuralschema.Structural // nil without a schema
	openapi    *spec.Schema
}

// DecodeCRD decodes a CustomResourceDefinition (apiextensions.k8s.io/v1)
// from YAML or JSON.
func DecodeCRD(data []byte) (*apiextensionsv1.CustomResourceDefinition, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		return nil, fmt.Errorf("kubeschema: decode CustomResourceDefinition: %w (want an apiextensions.k8s.io/v1 CustomResourceDefinition)", err)
	}
	if crd.Kind != "CustomResourceDefinition" {
		return nil, fmt.Errorf("kubeschema: decode CustomResourceDefinition: got kind %q (want an apiextensions.k8s.io/v1 CustomResourceDefinition)", crd.Kind)
	}
	return crd, nil
}

// NewCRDValidator prepares the validation of every version of crd. It fails
// when a schema is not structural, which the API server refuses too.
func NewCRDValidator(crd *apiextensionsv1.CustomResourceDefinition) (*CRDValidator, error) {
	v := &CRDValidator{name: crd.Name, group: crd.Spec.Group, kind: crd.Spec.Names.Kind, versions: map[string]*crdVersion{}}
	for _, ver := range crd.Spec.Versions {
		cv := &crdVersion{served: ver.Served}
		v.versions[ver.Name] = cv
		if ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
			continue
		}
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			return nil, fmt.Errorf("kubeschema: CustomResourceDefinition %s version %s: convert schema: %w", crd.Name, ver.Name, err)
		}
		st, err := structuralschema.NewStructural(internal)
		if err == nil {
			err = structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), st).ToAggregate()
		}
		if err != nil {
			return nil, fmt.Errorf("kubeschema: CustomResourceDefinition %s version %s: schema is not structural: %w (give every field a type; see https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema)", crd.Name, ver.Name, err)
		}
		openapi, err := crdOpenAPI(ver.Schema.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("kubeschema: CustomResourceDefinition %s version %s: convert schema: %w", crd.Name, ver.Name, err)
		}
		cv.structural, cv.openapi = st, openapi
	}
	return v, nil
}

// Versions lists the served versions of the CRD that have a schema.
func (v *CRDValidator) Versions() []string {
	var out []string
	for name, cv := range v.versions {
		if cv.served && cv.structural != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Validate checks a custom resource: defaulting, then unknown fields (which
// the API server prunes), ObjectMeta, the OpenAPI schema and list-type
// uniqueness. ok is false when obj is not of this CRD's group and kind, or
// its version is not served or has no schema.
func (v *CRDValidator) Validate(obj map[string]any) (problems []Problem, ok bool) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || gv.Group != v.group || kind != v.kind {
		return nil, false
	}
	cv := v.versions[gv.Version]
	if cv == nil || !cv.served || cv.structural == nil {
		return nil, false
	}
	where := fmt.Sprintf("%s %s (CustomResourceDefinition %s)", apiVersion, kind, v.name)
	u := cleanCopy(obj).(map[string]any)
	applyDefaults(u, cv.structural)

	for _, path := range pruning.PruneWithOptions(u, cv.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		problems = append(problems, Problem{Path: path, Kind: Unknown, Message: "field not declared in the schema of " + where})
	}
	metaErr, metaUnknown := objectmeta.CoerceWithOptions(nil, u, cv.structural, true, objectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	for _, path := range metaUnknown {
		problems = append(problems, Problem{Path: path, Kind: Unknown, Message: "field not declared in ObjectMeta"})
	}
	if metaErr != nil {
		problems = append(problems, fieldProblem(metaErr))
	}
	res := validate.NewSchemaValidator(cv.openapi, nil, "", strfmt.Default).Validate(u)
	problems = append(problems, problemsOf(res.Errors)...)
	// Validation only reads; the context carries no deadline here.
	for _, err := range objectmeta.Validate(context.Background(), nil, u, cv.structural, false) {
		problems = append(problems, fieldProblem(err))
	}
	for _, err := range listtype.ValidateListSetsAndMaps(nil, cv.structural, u) {
		problems = append(problems, fieldProblem(err))
	}
	return sortProblems(problems), true
}

// fieldProblem converts an apimachinery field error.
func fieldProblem(err *field.Error) Problem {
	kind := Other
	switch err.Type {
	case field.ErrorTypeRequired:
		kind = Required
	case field.ErrorTypeNotSupported:
		kind = Enum
	case field.ErrorTypeTypeInvalid:
		kind = Type
	}
	return Problem{Path: err.Field, Kind: kind, Message: err.ErrorBody()}
}

// GroupKind returns the group and kind of the CRD's resources.
func (v *CRDValidator) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: v.group, Kind: v.kind}
}

// crdOpenAPI converts a CRD schema to the kube-openapi schema the API server
// validates with. It does what apiextensions-apiserver's
// validation.ConvertJSONSchemaProps does: both types share the OpenAPI JSON
// form, and x-kubernetes-int-or-string becomes type [integer, string]. (That
// package, like .../schema/defaulting, imports cel-go, which this module
// does not require.) Formats kube-openapi does not know are ignored by its
// validator, as the API server strips them.
func crdOpenAPI(in *apiextensionsv1.JSONSchemaProps) (*spec.Schema, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	out := &spec.Schema{}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	intOrStringTypes(out)
	return out, nil
}

// intOrStringTypes sets type [integer, string] on x-kubernetes-int-or-string nodes.
func intOrStringTypes(s *spec.Schema) {
	if flag(s, extIntOrString) {
		s.Type = spec.StringOrArray{"integer", "string"}
	}
	for k, p := range s.Properties {
		intOrStringTypes(&p)
		s.Properties[k] = p
	}
	if s.Items != nil && s.Items.Schema != nil {
		intOrStringTypes(s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		intOrStringTypes(s.AdditionalProperties.Schema)
	}
	for _, list := range [][]spec.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range list {
			intOrStringTypes(&list[i])
		}
	}
	if s.Not != nil {
		intOrStringTypes(s.Not)
	}
}

// applyDefaults sets the defaults of s in x, in place: the algorithm of
// apiextensions-apiserver's schema/defaulting.Default (whose package imports
// cel-go): a missing field, or a null one that is not nullable, takes its
// default; defaults are deep-copied.
func applyDefaults(x any, s *structuralschema.Structural) {
	if s == nil {
		return
	}
	nonNullableNull := func(v any, s *structuralschema.Structural) bool {
		return v == nil && s != nil && !s.Generic.Nullable
	}
	switch x := x.(type) {
	case map[string]any:
		for k, prop := range s.Properties {
			if prop.Default.Object == nil {
				continue
			}
			if v, found := x[k]; !found || nonNullableNull(v, &prop) {
				x[k] = cleanCopy(runtime.DeepCopyJSONValue(prop.Default.Object))
			}
		}
		for k := range x {
			if prop, found := s.Properties[k]; found {
				applyDefaults(x[k], &prop)
			} else if s.AdditionalProperties != nil {
				if nonNullableNull(x[k], s.AdditionalProperties.Structural) && s.AdditionalProperties.Structural.Default.Object != nil {
					x[k] = cleanCopy(runtime.DeepCopyJSONValue(s.AdditionalProperties.Structural.Default.Object))
				}
				applyDefaults(x[k], s.AdditionalProperties.Structural)
			}
		}
	case []any:
		for i := range x {
			if nonNullableNull(x[i], s.Items) && s.Items.Default.Object != nil {
				x[i] = cleanCopy(runtime.DeepCopyJSONValue(s.Items.Default.Object))
			}
			applyDefaults(x[i], s.Items)
		}
	}
}
