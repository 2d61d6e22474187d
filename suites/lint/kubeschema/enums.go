package kubeschema

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/scanner"

	"k8s.io/kube-openapi/pkg/util"
)

// enumRule is the allowed values of one field of a definition.
type enumRule struct {
	// path leads from the definition to the field: property names, "[]" for
	// array items, "{}" for map values.
	path   []string
	values []any
}

// readEnums extracts the enum values of the generated OpenAPI definitions
// of a Kubernetes version (pkg/generated/openapi/zz_generated.openapi.go),
// keyed by OpenAPI definition name (io.k8s.api.core.v1.ServiceSpec). The
// published specs drop enums; this Go source keeps them, as
//
//	"type": {SchemaProps: spec.SchemaProps{..., Enum: []interface{}{"ClusterIP", ...}}}
//
// It is read token by token (text/scanner), without building a syntax tree:
// the file is several megabytes.
func readEnums(name string) (map[string][]enumRule, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var sc scanner.Scanner
	sc.Init(bufio.NewReaderSize(f, 64<<10))
	sc.Filename = name
	sc.Mode = scanner.GoTokens
	var scanErr error
	sc.Error = func(s *scanner.Scanner, msg string) {
		if scanErr == nil {
			scanErr = fmt.Errorf("%s: %s", s.Position, msg)
		}
	}

	goNames := map[string]string{} // schema_k8sio_api_core_v1_ServiceSpec → k8s.io/api/core/v1.ServiceSpec
	rules := map[string][]enumRule{}
	var (
		stack      []string // label of each open brace: the key before it
		pending    string   // key seen before ':' and not yet used by a brace
		prev       rune     // previous token
		prevText   string
		afterFunc  bool
		curFunc    string
		enumDepth  = -1 // stack depth at `Enum:`, -1 outside an enum literal
		enumPath   []string
		enumValues []any
	)
	for tok := sc.Scan(); tok != scanner.EOF; tok = sc.Scan() {
		text := sc.TokenText()
		switch tok {
		case scanner.Ident:
			if afterFunc {
				curFunc, afterFunc = text, false
			}
			afterFunc = text == "func"
			if prev == ':' && strings.HasPrefix(text, "schema_") && strings.HasPrefix(pending, `"`) {
				if goName, err := strconv.Unquote(pending); err == nil {
					goNames[text] = goName
				}
			}
		case scanner.String, scanner.RawString:
			if enumDepth >= 0 && len(stack) == enumDepth+1 && stack[len(stack)-1] == "" {
				if v, err := strconv.Unquote(text); err == nil {
					enumValues = append(enumValues, v)
				}
			}
		case ':':
			if prev == scanner.Ident || prev == scanner.String {
				pending = prevText
			}
			if prev == scanner.Ident && prevText == "Enum" {
				enumDepth, enumPath, enumValues = len(stack), enumPathOf(stack), nil
			}
		case '{':
			stack = append(stack, pending)
			pending = ""
		case '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			pending = ""
			if enumDepth >= 0 && len(stack) == enumDepth && len(enumValues) > 0 {
				if goName, ok := goNames[curFunc]; ok && enumPath != nil {
					def := util.ToRESTFriendlyName(goName)
					rules[def] = append(rules[def], enumRule{path: enumPath, values: enumValues})
				}
				enumDepth = -1
			}
		case ',':
			pending = ""
		}
		prev, prevText = tok, text
	}
	if scanErr != nil {
		return nil, scanErr
	}
	return rules, nil
}

// enumPathOf turns the brace labels around an `Enum:` into a field path, or
// nil when the enum is not below Properties/Items/AdditionalProperties of a
// definition.
func enumPathOf(stack []string) []string {
	path := []string{}
	for i, label := range stack {
		switch label {
		case "Properties":
			if i+1 < len(stack) {
				name, err := strconv.Unquote(stack[i+1])
				if err != nil {
					return nil
				}
				path = append(path, name)
			}
		case "Items":
			path = append(path, "[]")
		case "AdditionalProperties":
			path = append(path, "{}")
		}
	}
	return path
}
