package unit

import "fmt"

// vctx is what a validator sees for one template.
type vctx struct {
	template  string
	docs      []*document // all documents the template rendered
	selected  []*document // after documentIndex / documentSelector
	negative  bool
	failed    bool  // the render failed
	renderErr error // a render error not tied to a file
	snapshot  func(v any) snapshotCompare
}

// validateFunc checks one template's documents for one assertion.
type validateFunc func(a *assertion, c *vctx) (bool, []string)

// docIndex is the position of d among all the template's documents.
func (c *vctx) docIndex(d *document) int {
	for i, x := range c.docs {
		if x == d {
			return i
		}
	}
	return -1
}

// eachDoc runs check on every selected document; all must pass.
func eachDoc(c *vctx, check func(d *document) (bool, []string)) (bool, []string) {
	if len(c.selected) == 0 {
		return false, errorInfo("template %s rendered no document (check its conditions and the values set)", c.template)
	}
	passed := true
	var info []string
	for _, d := range c.selected {
		ok, lines := check(d)
		if !ok {
			passed = false
			info = append(info, fmt.Sprintf("DocumentIndex:\t%d", c.docIndex(d)))
			info = append(info, lines...)
		}
	}
	return passed, info
}

// eachValue finds a.path in d and runs check on every value found; a path
// that finds nothing fails unless missingPasses says otherwise.
func eachValue(a *assertion, d *document, missingPasses bool, check func(v any) (bool, []string)) (bool, []string) {
	vals, err := a.path.find(d)
	if err != nil {
		return false, errorInfo("%v", err)
	}
	if len(vals) == 0 {
		if missingPasses {
			return true, nil
		}
		return false, errorInfo("unknown path %s", a.params.Path)
	}
	passed := true
	var info []string
	for _, v := range vals {
		ok, lines := check(v)
		if !ok {
			passed = false
			info = append(info, lines...)
		}
	}
	return passed, info
}
