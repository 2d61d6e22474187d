package lint

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// decodeFile decodes every document of a rendered file strictly and records
// schema findings (SD101-SD104). It returns the objects that have a kind.
func (c *cellRun) decodeFile(file, content string) {
	for _, doc := range splitDocuments(content) {
		if o := c.decodeDocument(file, doc); o != nil {
			c.objects = append(c.objects, o)
		}
	}
}

// decodeDocument decodes one document; nil when it is no Kubernetes object.
func (c *cellRun) decodeDocument(file string, doc document) *object {
	where := fmt.Sprintf("%s (document %d)", file, doc.index)
	data, dupErr := yaml.YAMLToJSONStrict([]byte(doc.text))
	if dupErr != nil {
		var err error
		if data, err = yaml.YAMLToJSON([]byte(doc.text)); err != nil {
			c.addFile(RuleDecode, file, fmt.Sprintf("%s is not valid YAML: %s", where, oneLine(err.Error())))
			return nil
		}
	}
	raw := map[string]any{}
	if err := json.Unmarshal(data, &raw); err != nil {
		c.addFile(RuleDecode, file, fmt.Sprintf("%s is not a YAML mapping, so not a Kubernetes object: %s", where, oneLine(err.Error())))
		return nil
	}
	u := unstructured.Unstructured{Object: raw}
	o := &object{file: file, doc: doc.index, raw: raw, labels: u.GetLabels(), annotations: u.GetAnnotations(),
		ref: ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}}
	if o.ref.Namespace == "" {
		o.ref.Namespace = c.plan.namespace
	}
	if o.ref.APIVersion == "" || o.ref.Kind == "" {
		c.add(RuleDecode, o, "", fmt.Sprintf("%s has no apiVersion or kind; every Kubernetes object needs both", where))
		return nil
	}
	if dupErr != nil {
		c.add(RuleDuplicateKey, o, duplicateKey(dupErr), fmt.Sprintf("%s has a duplicate key: %s", where, oneLine(dupErr.Error())))
	}
	c.decodeTyped(o, data, where)
	return o
}

// decodeTyped decodes the object into its k8s.io/api type, strictly.
func (c *cellRun) decodeTyped(o *object, data []byte, where string) {
	gvk := schema.FromAPIVersionAndKind(o.ref.APIVersion, o.ref.Kind)
	if !c.scheme.Recognizes(gvk) {
		c.unknownKind(o, gvk)
		return
	}
	typed, err := c.scheme.New(gvk)
	if err != nil {
		c.add(RuleDecode, o, "", fmt.Sprintf("%s: cannot make a %s: %v", where, gvk, err))
		return
	}
	strictErrs, err := kjson.UnmarshalStrict(data, typed)
	if err != nil {
		c.add(RuleDecode, o, typeErrorField(err), fmt.Sprintf("%s does not decode as %s %s: %s", where, o.ref.APIVersion, o.ref.Kind, oneLine(err.Error())))
		return
	}
	for _, se := range strictErrs {
		msg := oneLine(se.Error())
		field := quoted(msg)
		switch {
		case strings.Contains(msg, "unknown field"):
			c.add(RuleUnknownField, o, field, fmt.Sprintf("%s: %s is not a field of %s %s", where, field, o.ref.APIVersion, o.ref.Kind))
		case strings.Contains(msg, "duplicate field"):
			c.add(RuleDuplicateKey, o, field, fmt.Sprintf("%s: duplicate field %s", where, field))
		default:
			c.add(RuleDecode, o, field, fmt.Sprintf("%s: %s", where, msg))
		}
	}
	o.typed = typed
}

// unknownKind records why an object of a kind missing from the scheme is not
// schema-checked; removed or not-yet-served apiVersions are left to the API rules.
func (c *cellRun) unknownKind(o *object, gvk schema.GroupVersionKind) {
	if e, ok := c.apis.lookup(o.ref.APIVersion, o.ref.Kind); ok {
		if e.served(c.version) {
			c.add(RuleNotSchemaCheck, o, "", fmt.Sprintf("%s %s is not schema-checked: the Kubernetes client library in use no longer has this apiVersion",
				o.ref.APIVersion, o.ref.Kind))
		}
		return
	}
	if c.scheme.IsGroupRegistered(gvk.Group) {
		c.add(RuleDecode, o, "kind", fmt.Sprintf("%s %s is not a Kubernetes kind: the %q API group has no such kind in that version; check kind and apiVersion",
			o.ref.APIVersion, o.ref.Kind, gvk.Group))
		return
	}
	c.add(RuleNotSchemaCheck, o, "", fmt.Sprintf("%s %s is not schema-checked: it is a custom resource without a known schema",
		o.ref.APIVersion, o.ref.Kind))
}

// oneLine folds a multi-line error message. The items of a values schema
// error ("... - at '/a': x - at '/b': y") are sorted, as their order varies
// from run to run and findings are merged by message.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	head, items, ok := strings.Cut(" "+s, " - at ")
	if !ok {
		return s
	}
	parts := strings.Split(items, " - at ")
	slices.Sort(parts)
	return strings.TrimPrefix(head+" - at ", " ") + strings.Join(parts, " - at ")
}

// quoted returns the first double-quoted part of msg, e.g. the field of
// `unknown field "spec.foo"`.
func quoted(msg string) string {
	_, rest, ok := strings.Cut(msg, `"`)
	if !ok {
		return ""
	}
	field, _, _ := strings.Cut(rest, `"`)
	return field
}

// duplicateKey returns the key of a YAML "key "x" already set in map" error.
func duplicateKey(err error) string { return quoted(err.Error()) }

// typeErrorField returns the field path of a JSON type error such as
// "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32", or "".
func typeErrorField(err error) string {
	_, rest, ok := strings.Cut(err.Error(), "Go struct field ")
	if !ok {
		return ""
	}
	path, _, _ := strings.Cut(rest, " of type")
	if _, field, ok := strings.Cut(path, "."); ok {
		return field
	}
	return path
}
