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
// decoding findings, adding the objects that have a kind to the cell.
func (c *cellRun) decodeFile(file, content string) {
	for _, doc := range splitDocuments(content) {
		c.objects = append(c.objects, c.decodeDocument(file, doc)...)
	}
}

// decodeDocument decodes one document into its objects: one, the items of a
// `kind: List` (which kubectl and Helm flatten before sending), or none when
// the document is no Kubernetes object.
func (c *cellRun) decodeDocument(file string, doc document) []*object {
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
	o := c.newObject(file, doc.index, 0, raw)
	if dupErr != nil {
		c.add(RuleDuplicateKey, o, duplicateKey(dupErr), fmt.Sprintf("%s has a duplicate key: %s", where, oneLine(dupErr.Error())))
	}
	if items, isList := listItems(raw); isList {
		return c.decodeListItems(o, items, where)
	}
	if !c.hasKind(o, where) {
		return nil
	}
	c.decodeTyped(o, data, where)
	return []*object{o}
}

// newObject wraps the JSON-like raw object of a document (item is the 1-based
// position in a List, 0 for a plain document).
func (c *cellRun) newObject(file string, doc, item int, raw map[string]any) *object {
	u := unstructured.Unstructured{Object: raw}
	o := &object{file: file, doc: doc, item: item, raw: raw, labels: u.GetLabels(), annotations: u.GetAnnotations(),
		ref: ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}}
	if o.ref.Namespace == "" {
		o.ref.Namespace = c.plan.namespace
	}
	return o
}

// hasKind reports whether o names its apiVersion and kind, recording SD101 if not.
func (c *cellRun) hasKind(o *object, where string) bool {
	if o.ref.APIVersion != "" && o.ref.Kind != "" {
		return true
	}
	c.add(RuleDecode, o, "", fmt.Sprintf("%s has no apiVersion or kind; every Kubernetes object needs both", where))
	return false
}

// listItems returns the items of a List document (apiVersion v1, a kind
// ending in "List" and an items array), the form `kubectl get -o yaml` writes.
func listItems(raw map[string]any) ([]any, bool) {
	kind, _ := raw["kind"].(string)
	if raw["apiVersion"] != "v1" || !strings.HasSuffix(kind, "List") {
		return nil, false
	}
	items, ok := raw["items"].([]any)
	return items, ok || raw["items"] == nil
}

// decodeListItems decodes each item of a List as an object of its own.
func (c *cellRun) decodeListItems(list *object, items []any, where string) []*object {
	var out []*object
	for i, it := range items {
		itemWhere := fmt.Sprintf("%s, %s", where, fieldIndex("items", i))
		m, ok := it.(map[string]any)
		if !ok {
			c.add(RuleDecode, list, fieldIndex("items", i), fmt.Sprintf("%s is not a Kubernetes object (a YAML mapping)", itemWhere))
			continue
		}
		o := c.newObject(list.file, list.doc, i+1, m)
		if !c.hasKind(o, itemWhere) {
			continue
		}
		data, err := json.Marshal(m)
		if err != nil {
			c.add(RuleDecode, o, "", fmt.Sprintf("%s: %v", itemWhere, err))
			continue
		}
		c.decodeTyped(o, data, itemWhere)
		out = append(out, o)
	}
	return out
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
	// Type and unknown-field errors wait for the schema check: the OpenAPI
	// schema of the cell's Kubernetes version, when there is one, judges them.
	strictErrs, err := kjson.UnmarshalStrict(data, typed)
	if err != nil {
		o.pending = append(o.pending, pendingFinding{RuleDecode, typeErrorField(err),
			fmt.Sprintf("%s does not decode as %s %s: %s", where, o.ref.APIVersion, o.ref.Kind, oneLine(err.Error()))})
		return
	}
	for _, se := range strictErrs {
		msg := oneLine(se.Error())
		field := quoted(msg)
		switch {
		case strings.Contains(msg, "unknown field"):
			o.pending = append(o.pending, pendingFinding{RuleUnknownField, field,
				fmt.Sprintf("%s: %s is not a field of %s %s", where, field, o.ref.APIVersion, o.ref.Kind)})
		case strings.Contains(msg, "duplicate field"):
			c.add(RuleDuplicateKey, o, field, fmt.Sprintf("%s: duplicate field %s", where, field))
		default:
			o.pending = append(o.pending, pendingFinding{RuleDecode, field, fmt.Sprintf("%s: %s", where, msg)})
		}
	}
	o.typed = typed
}

// unknownKind notes an object of a kind missing from the scheme. A kind the
// API group does not have is an error; otherwise the schema check decides
// (the version's OpenAPI schema, or a CRD of the chart), and removed or
// not-yet-served apiVersions are left to the API rules.
func (c *cellRun) unknownKind(o *object, gvk schema.GroupVersionKind) {
	if e, ok := c.apis.lookup(o.ref.APIVersion, o.ref.Kind); ok {
		if e.served(c.version) {
			o.unchecked = fmt.Sprintf("%s %s is not schema-checked: the Kubernetes client library in use no longer has this apiVersion, and no OpenAPI schema of Kubernetes %s was available",
				o.ref.APIVersion, o.ref.Kind, c.version.text)
		}
		return
	}
	if c.scheme.IsGroupRegistered(gvk.Group) {
		c.add(RuleDecode, o, "kind", fmt.Sprintf("%s %s is not a Kubernetes kind: the %q API group has no such kind in that version; check kind and apiVersion",
			o.ref.APIVersion, o.ref.Kind, gvk.Group))
		return
	}
	o.unchecked = fmt.Sprintf("%s %s is not schema-checked: it is a custom resource and the chart ships no CustomResourceDefinition for it",
		o.ref.APIVersion, o.ref.Kind)
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
