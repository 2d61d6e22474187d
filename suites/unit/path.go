package unit

import (
	"fmt"

	"github.com/vmware-labs/yaml-jsonpath/pkg/yamlpath"
	"gopkg.in/yaml.v3"
)

// compiledPath is a helm-unittest path (`spec.containers[0].image`,
// `metadata.labels["app.kubernetes.io/name"]`, `[?(@.name == "x")]`),
// evaluated with the same YAML JSONPath library helm-unittest uses.
type compiledPath struct {
	raw string
	p   *yamlpath.Path
}

// compilePath parses a path once so each document only pays for the search.
func compilePath(path string) (*compiledPath, error) {
	p, err := yamlpath.NewPath(path)
	if err != nil {
		return nil, fmt.Errorf("invalid path %q: %w (use helm-unittest syntax such as spec.containers[0].image)", path, err)
	}
	return &compiledPath{raw: path, p: p}, nil
}

// find returns every value the path selects in the document, decoded to
// plain Go values (maps, slices, strings, ints, floats, bools, nil).
func (c *compiledPath) find(d *document) ([]any, error) {
	if c == nil {
		return []any{d.obj}, nil
	}
	nodes, err := c.p.Find(d.node)
	if err != nil {
		return nil, fmt.Errorf("evaluate path %q: %w", c.raw, err)
	}
	out := make([]any, 0, len(nodes))
	for _, n := range nodes {
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("decode value at %q: %w", c.raw, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// document is one rendered YAML document (or a text file / render error,
// held under the "raw" key as helm-unittest does).
type document struct {
	node *yaml.Node
	obj  map[string]any
}

// rawKey is where text output and render errors are kept.
const rawKey = "raw"

// raw returns the document's raw text, if it is a text document.
func (d *document) raw() (string, bool) {
	s, ok := d.obj[rawKey].(string)
	return s, ok
}

// newRawDocument wraps text (NOTES.txt output or an error) as a document.
func newRawDocument(text string) (*document, error) {
	obj := map[string]any{rawKey: text}
	var n yaml.Node
	if err := n.Encode(obj); err != nil {
		return nil, fmt.Errorf("wrap raw text as a document: %w", err)
	}
	return &document{node: &n, obj: obj}, nil
}
