package kubeschema

import (
	"strings"
	"testing"
)

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, enum: [red, green, blue]}
              port: {x-kubernetes-int-or-string: true}
              mode: {type: string, default: fast}
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
              labels:
                type: object
                additionalProperties: {type: string}
              config:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  level: {type: integer}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              ready: {type: boolean}
  - name: v2
    served: true
    storage: false
  - name: v0
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
`

func widgetValidator(t *testing.T) *CRDValidator {
	t.Helper()
	crd, err := DecodeCRD([]byte(widgetCRD))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewCRDValidator(crd)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCustomResourceValid(t *testing.T) {
	v := widgetValidator(t)
	problems, ok := v.Validate(object(t, `
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: shop
  labels: {app: web}
spec:
  size: 3
  color: red
  port: http
  mode: null
  tags: [a, b]
  labels: {team: shop}
  config: {level: 2, anything: {goes: [1, 2]}}
  template:
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: inner}
    data: {a: b}
`))
	if !ok || len(problems) != 0 {
		t.Errorf("ok=%v, want no problems, got:\n%s", ok, list(problems))
	}
	if got := strings.Join(v.Versions(), ","); got != "v1" {
		t.Errorf("Versions() = %s, want v1", got)
	}
}

func TestCustomResourceProblems(t *testing.T) {
	problems, ok := widgetValidator(t).Validate(object(t, `
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  labelz: {app: web}
spec:
  color: purple
  port: true
  tags: [a, a]
  labels: {team: 1}
  extra: 1
  config: {level: high, free: 1}
status:
  ready: "yes"
`))
	if !ok {
		t.Fatal("ok=false for a served version with a schema")
	}
	mustFind(t, problems, "spec.size", Required)
	p := mustFind(t, problems, "spec.color", Enum)
	if !strings.Contains(p.Message, `Unsupported value: "purple": supported values: "red", "green", "blue"`) {
		t.Errorf("enum message = %q", p.Message)
	}
	mustFind(t, problems, "spec.port", Type)
	mustFind(t, problems, "spec.labels.team", Type)
	mustFind(t, problems, "spec.config.level", Type)
	mustFind(t, problems, "status.ready", Type)
	p = mustFind(t, problems, "spec.extra", Unknown)
	if !strings.Contains(p.Message, "example.com/v1 Widget (CustomResourceDefinition widgets.example.com)") {
		t.Errorf("unknown-field message = %q", p.Message)
	}
	mustFind(t, problems, "metadata.labelz", Unknown)
	mustFind(t, problems, "spec.tags[1]", Other) // duplicate in a set
	for _, p := range problems {
		if strings.HasPrefix(p.Path, "spec.config.free") {
			t.Errorf("preserved unknown field reported: %s", p)
		}
	}
	if len(problems) != 9 {
		t.Errorf("want 9 problems, got:\n%s", list(problems))
	}
}

func TestCustomResourceWithoutSchema(t *testing.T) {
	v := widgetValidator(t)
	for _, doc := range []string{
		"apiVersion: example.com/v2\nkind: Widget\nmetadata: {name: w}\n",   // no schema
		"apiVersion: example.com/v0\nkind: Widget\nmetadata: {name: w}\n",   // not served
		"apiVersion: example.com/v9\nkind: Widget\nmetadata: {name: w}\n",   // no such version
		"apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: w}\n",   // other kind
		"apiVersion: other.example/v1\nkind: Widget\nmetadata: {name: w}\n", // other group
	} {
		if problems, ok := v.Validate(object(t, doc)); ok || problems != nil {
			t.Errorf("Validate(%q) = %v, %v; want nil, false", doc, problems, ok)
		}
	}
}

func TestCRDMustBeStructural(t *testing.T) {
	crd, err := DecodeCRD([]byte(strings.Replace(widgetCRD, "size: {type: integer, minimum: 1}", "size: {minimum: 1}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCRDValidator(crd); err == nil || !strings.Contains(err.Error(), "not structural") {
		t.Errorf("NewCRDValidator of a non-structural schema: err = %v", err)
	}
	if _, err := DecodeCRD([]byte("apiVersion: v1\nkind: ConfigMap\n")); err == nil {
		t.Error("DecodeCRD accepted a ConfigMap")
	}
}
