package lint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/shakedown-dev/shakedown/suites/lint/kubeschema"
)

// checkSchemas validates every object against a schema: a built-in kind
// against the OpenAPI spec of the cell's Kubernetes version (spec, nil when
// none could be had), a custom resource against the CRD the chart renders.
// The version's schema is the authority on fields: where it judged an
// object, the client library's decoding errors are reported only when the
// schema found nothing (a field the client library lacks is no error on a
// version that has it). Objects no schema covers get the SD104 notice.
func (c *cellRun) checkSchemas(spec *kubeschema.Spec) {
	crds := c.crdValidators()
	for _, o := range c.objects {
		problems, judged, source := c.validate(o, spec, crds)
		if !judged {
			for _, p := range o.pending {
				c.add(p.rule, o, p.field, p.message)
			}
			if o.unchecked != "" {
				c.add(RuleNotSchemaCheck, o, "", o.unchecked)
			}
			continue
		}
		for _, p := range problems {
			if defaultedRequired(o, p) {
				continue
			}
			// Messages leave the version out, so a defect merges over versions.
			msg := strings.TrimSuffix(p.String(), " on Kubernetes "+c.version.text)
			if source != "" && !strings.Contains(msg, "CustomResourceDefinition") {
				msg += " (" + source + ")"
			}
			c.add(problemRule(p.Kind), o, p.Path, o.where()+": "+msg)
		}
		if len(problems) == 0 {
			for _, p := range o.pending {
				if p.rule != RuleUnknownField {
					c.add(p.rule, o, p.field, p.message)
				}
			}
		}
	}
}

// validate judges o with the spec or a CRD; judged is false when neither has
// a schema for it. source names the CRD used, "" for the version's spec.
func (c *cellRun) validate(o *object, spec *kubeschema.Spec, crds map[schema.GroupKind]crdSchema) (problems []kubeschema.Problem, judged bool, source string) {
	if spec != nil {
		ps, ok, err := spec.Validate(o.raw)
		if err != nil {
			c.add(RuleNotSchemaCheck, o, "", fmt.Sprintf("the OpenAPI spec of Kubernetes %s cannot be read for %s: %s", c.version.text, o.ref.APIVersion, oneLine(err.Error())))
		} else if ok {
			return ps, true, ""
		}
	}
	gk := schema.FromAPIVersionAndKind(o.ref.APIVersion, o.ref.Kind).GroupKind()
	if v, found := crds[gk]; found {
		if ps, ok := v.Validate(o.raw); ok {
			return ps, true, "CustomResourceDefinition " + v.name
		}
		version := schema.FromAPIVersionAndKind(o.ref.APIVersion, o.ref.Kind).Version
		if !slices.Contains(v.Versions(), version) {
			c.add(RuleDecode, o, "apiVersion", fmt.Sprintf("%s %s is not served: the chart's CustomResourceDefinition %s serves %s only, so the API server has no such kind; use one of those apiVersions",
				o.ref.APIVersion, o.ref.Kind, v.name, strings.Join(v.servedAPIVersions(gk.Group), ", ")))
			return nil, true, ""
		}
		o.unchecked = fmt.Sprintf("%s %s is not schema-checked: the chart's CustomResourceDefinition %s has no schema for version %q",
			o.ref.APIVersion, o.ref.Kind, v.name, version)
	}
	return nil, false, ""
}

// crdSchema is the validator of a CRD the chart renders, with the CRD's name.
type crdSchema struct {
	*kubeschema.CRDValidator
	name string
}

// defaultedRequired reports a "required" field of a spec that the API server
// in fact accepts missing: the spec marks every Go field without omitempty
// required, and for some struct fields the zero value is valid. Known case:
// NetworkPolicy spec.podSelector (required in specs before 1.31; missing
// means {}, every pod of the namespace).
func defaultedRequired(o *object, p kubeschema.Problem) bool {
	return p.Kind == kubeschema.Required && p.Path == "spec.podSelector" &&
		o.ref.Kind == "NetworkPolicy" && groupOf(o.ref.APIVersion) == "networking.k8s.io"
}

// servedAPIVersions lists the CRD's served versions as apiVersions of group.
func (v crdSchema) servedAPIVersions(group string) []string {
	var out []string
	for _, ver := range v.Versions() {
		out = append(out, group+"/"+ver)
	}
	return out
}

// problemRule maps a schema problem to its rule: undeclared fields SD102,
// wrong types SD101, every other violation SD106.
func problemRule(k kubeschema.ProblemKind) string {
	switch k {
	case kubeschema.Unknown:
		return RuleUnknownField
	case kubeschema.Type:
		return RuleDecode
	default:
		return RuleSchema
	}
}

// crdValidators builds a validator per CustomResourceDefinition the cell
// renders (crds/ and templates). A CRD whose schema cannot be used is an SD106 error.
func (c *cellRun) crdValidators() map[schema.GroupKind]crdSchema {
	out := map[schema.GroupKind]crdSchema{}
	for _, o := range c.objects {
		crd, ok := o.typed.(*apiextensionsv1.CustomResourceDefinition)
		if !ok {
			continue
		}
		v, err := kubeschema.NewCRDValidator(crd)
		if err != nil {
			c.add(RuleSchema, o, "spec.versions", fmt.Sprintf("%s: the CustomResourceDefinition's schema cannot validate its resources: %s", o.where(), oneLine(err.Error())))
			continue
		}
		out[v.GroupKind()] = crdSchema{v, crd.Name}
	}
	return out
}

// specFor returns the OpenAPI spec of the cell's version, or nil with an
// SD104 notice saying why none could be had and what was checked instead.
func (c *cellRun) specFor(ctx context.Context) *kubeschema.Spec {
	spec, err := c.schemas.Spec(ctx, c.version.text)
	if err == nil {
		return spec
	}
	if ctx.Err() != nil {
		return nil
	}
	why := oneLine(err.Error())
	if errors.Is(err, kubeschema.ErrNoSpec) {
		why = "the k8s.io/kubernetes module of that version ships none"
	}
	c.addFile(RuleNotSchemaCheck, "", fmt.Sprintf("no OpenAPI spec of Kubernetes %s (%s): built-in kinds were checked against the types of the Kubernetes client library only, without required fields, enums, formats or fields that version lacks; give a full MAJOR.MINOR.PATCH version whose k8s.io/kubernetes module the Go module proxy serves, or specs in --openapi-dir (Options.SpecDir)",
		c.version.text, why))
	return nil
}
