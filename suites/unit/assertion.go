package unit

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// assertion is one entry of a case's `asserts` list.
type assertion struct {
	Type             string
	Not              bool
	Template         string
	DocumentIndex    *int
	DocumentSelector *docSelector
	params           params
	def              assertDef
	path             *compiledPath // compiled params.Path, nil when empty
}

// params is the union of every assertion type's fields.
type params struct {
	Path         string   `yaml:"path"`
	Paths        []string `yaml:"paths"`
	Value        any      `yaml:"value"`
	Content      any      `yaml:"content"`
	Count        *int     `yaml:"count"`
	Any          bool     `yaml:"any"`
	Pattern      string   `yaml:"pattern"`
	DecodeBase64 bool     `yaml:"decodeBase64"`
	Of           string   `yaml:"of"`
	Type         string   `yaml:"type"`
	ErrorMessage string   `yaml:"errorMessage"`
	ErrorPattern string   `yaml:"errorPattern"`
	Kind         string   `yaml:"kind"`
	APIVersion   string   `yaml:"apiVersion"`
	Name         string   `yaml:"name"`
	Namespace    string   `yaml:"namespace"`
	FilterAware  bool     `yaml:"filterAware"`
}

// UnmarshalYAML builds the assertion and checks its type is known.
func (a *assertion) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: an assert must be a mapping like `- equal: {path: ..., value: ...}`", n.Line)
	}
	var typeNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "not":
			if err := v.Decode(&a.Not); err != nil {
				return fmt.Errorf("line %d: `not` must be true or false: %w", v.Line, err)
			}
		case "template":
			a.Template = v.Value
		case "documentIndex":
			var idx int
			if err := v.Decode(&idx); err != nil {
				return fmt.Errorf("line %d: documentIndex must be an integer: %w", v.Line, err)
			}
			a.DocumentIndex = &idx
		case "documentSelector":
			var s docSelector
			if err := v.Decode(&s); err != nil {
				return fmt.Errorf("line %d: documentSelector: %w", v.Line, err)
			}
			a.DocumentSelector = &s
		default:
			if a.Type != "" {
				return fmt.Errorf("line %d: assertion types `%s` and `%s` are both declared (one per list entry)", v.Line, a.Type, k)
			}
			a.Type, typeNode = k, v
		}
	}
	if a.Type == "" {
		return fmt.Errorf("line %d: no assertion type declared (one of %s)", n.Line, strings.Join(assertionTypeNames(), ", "))
	}
	def, ok := lookupAssertion(a.Type)
	if !ok {
		return fmt.Errorf("line %d: assertion type `%s` is invalid (one of %s)", n.Line, a.Type, strings.Join(assertionTypeNames(), ", "))
	}
	a.def = def
	if typeNode != nil && typeNode.Kind != 0 && !(typeNode.Kind == yaml.ScalarNode && typeNode.Tag == "!!null") {
		if err := typeNode.Decode(&a.params); err != nil {
			return fmt.Errorf("line %d: parameters of `%s`: %w", typeNode.Line, a.Type, err)
		}
	}
	if a.params.Path != "" {
		p, err := compilePath(a.params.Path)
		if err != nil {
			return fmt.Errorf("line %d: `%s` path: %w", typeNode.Line, a.Type, err)
		}
		a.path = p
	}
	return nil
}

// assertDef tells how an assertion type validates.
type assertDef struct {
	validate validateFunc
	// antonym flips the outcome (notEqual is equal with antonym).
	antonym bool
	// needsRender is false only for failedTemplate, which wants errors.
	needsRender bool
}

// lookupAssertion maps a helm-unittest assertion name to its definition.
func lookupAssertion(name string) (assertDef, bool) {
	switch name {
	case "equal":
		return assertDef{validate: validateEqual, needsRender: true}, true
	case "notEqual":
		return assertDef{validate: validateEqual, antonym: true, needsRender: true}, true
	case "equalRaw":
		return assertDef{validate: validateEqualRaw, needsRender: true}, true
	case "notEqualRaw":
		return assertDef{validate: validateEqualRaw, antonym: true, needsRender: true}, true
	case "contains":
		return assertDef{validate: validateContains, needsRender: true}, true
	case "notContains":
		return assertDef{validate: validateContains, antonym: true, needsRender: true}, true
	case "isSubset":
		return assertDef{validate: validateIsSubset, needsRender: true}, true
	case "isNotSubset":
		return assertDef{validate: validateIsSubset, antonym: true, needsRender: true}, true
	case "exists":
		return assertDef{validate: validateExists, needsRender: true}, true
	case "notExists":
		return assertDef{validate: validateExists, antonym: true, needsRender: true}, true
	case "isNull":
		return assertDef{validate: validateIsNull, needsRender: true}, true
	case "isNotNull":
		return assertDef{validate: validateIsNull, antonym: true, needsRender: true}, true
	case "isEmpty", "isNullOrEmpty":
		return assertDef{validate: validateIsEmpty, needsRender: true}, true
	case "isNotEmpty", "isNotNullOrEmpty":
		return assertDef{validate: validateIsEmpty, antonym: true, needsRender: true}, true
	case "matchRegex":
		return assertDef{validate: validateMatchRegex, needsRender: true}, true
	case "notMatchRegex":
		return assertDef{validate: validateMatchRegex, antonym: true, needsRender: true}, true
	case "matchRegexRaw":
		return assertDef{validate: validateMatchRegexRaw, needsRender: true}, true
	case "notMatchRegexRaw":
		return assertDef{validate: validateMatchRegexRaw, antonym: true, needsRender: true}, true
	case "hasDocuments":
		return assertDef{validate: validateHasDocuments, needsRender: true}, true
	case "containsDocument":
		return assertDef{validate: validateContainsDocument, needsRender: true}, true
	case "lengthEqual":
		return assertDef{validate: validateLengthEqual, needsRender: true}, true
	case "notLengthEqual":
		return assertDef{validate: validateLengthEqual, antonym: true, needsRender: true}, true
	case "isKind":
		return assertDef{validate: validateIsKind, needsRender: true}, true
	case "isAPIVersion":
		return assertDef{validate: validateIsAPIVersion, needsRender: true}, true
	case "isType":
		return assertDef{validate: validateIsType, needsRender: true}, true
	case "isNotType":
		return assertDef{validate: validateIsType, antonym: true, needsRender: true}, true
	case "greaterOrEqual":
		return assertDef{validate: validateGreaterOrEqual, needsRender: true}, true
	case "notGreaterOrEqual":
		return assertDef{validate: validateGreaterOrEqual, antonym: true, needsRender: true}, true
	case "lessOrEqual":
		return assertDef{validate: validateLessOrEqual, needsRender: true}, true
	case "notLessOrEqual":
		return assertDef{validate: validateLessOrEqual, antonym: true, needsRender: true}, true
	case "failedTemplate":
		return assertDef{validate: validateFailedTemplate}, true
	case "notFailedTemplate":
		return assertDef{validate: validateFailedTemplate, antonym: true, needsRender: true}, true
	case "matchSnapshot":
		return assertDef{validate: validateMatchSnapshot, needsRender: true}, true
	}
	return assertDef{}, false
}

// assertionTypeNames lists the supported assertion names, sorted.
func assertionTypeNames() []string {
	names := []string{"equal", "notEqual", "equalRaw", "notEqualRaw", "contains", "notContains",
		"isSubset", "isNotSubset", "exists", "notExists", "isNull", "isNotNull", "isEmpty", "isNotEmpty",
		"isNullOrEmpty", "isNotNullOrEmpty", "matchRegex", "notMatchRegex", "matchRegexRaw",
		"notMatchRegexRaw", "hasDocuments", "containsDocument", "lengthEqual", "notLengthEqual",
		"isKind", "isAPIVersion", "isType", "isNotType", "greaterOrEqual", "notGreaterOrEqual",
		"lessOrEqual", "notLessOrEqual", "failedTemplate", "notFailedTemplate", "matchSnapshot"}
	sort.Strings(names)
	return names
}
