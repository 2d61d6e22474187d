package unit

import (
	"fmt"
	"regexp"
	"strings"
)

// rawOf returns a document's raw text or a failure explaining it has none.
func rawOf(d *document) (string, []string) {
	s, ok := d.raw()
	if !ok {
		return "", errorInfo("not a text document (equalRaw and matchRegexRaw are for NOTES.txt and other .txt templates)")
	}
	return s, nil
}

// validateEqualRaw: the text output equals `value`.
func validateEqualRaw(a *assertion, c *vctx) (bool, []string) {
	want := fmt.Sprint(a.params.Value)
	return eachDoc(c, func(d *document) (bool, []string) {
		s, bad := rawOf(d)
		if bad != nil {
			return false, bad
		}
		if (s == want) != c.negative {
			return true, nil
		}
		return false, expectInfo("", to(c.negative)+" equal", want, s, !c.negative)
	})
}

// validateMatchRegexRaw: the text output matches `pattern`.
func validateMatchRegexRaw(a *assertion, c *vctx) (bool, []string) {
	re, err := regexp.Compile(a.params.Pattern)
	if err != nil {
		return false, errorInfo("pattern %q does not compile: %v", a.params.Pattern, err)
	}
	return eachDoc(c, func(d *document) (bool, []string) {
		s, bad := rawOf(d)
		if bad != nil {
			return false, bad
		}
		if re.MatchString(s) != c.negative {
			return true, nil
		}
		return false, expectInfo("", to(c.negative)+" match", a.params.Pattern, s, true)
	})
}

// validateIsKind: every selected document has kind `of`.
func validateIsKind(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		got := d.obj["kind"]
		if (got == a.params.Of) != c.negative {
			return true, nil
		}
		return false, expectInfo("", to(c.negative)+" be kind", a.params.Of, got, true)
	})
}

// validateIsAPIVersion: every selected document has apiVersion `of`.
func validateIsAPIVersion(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		got := d.obj["apiVersion"]
		if (got == a.params.Of) != c.negative {
			return true, nil
		}
		return false, expectInfo("", to(c.negative)+" be apiVersion", a.params.Of, got, true)
	})
}

// validateHasDocuments: the template rendered `count` documents.
func validateHasDocuments(a *assertion, c *vctx) (bool, []string) {
	if a.params.Count == nil {
		return false, errorInfo("hasDocuments needs 'count'")
	}
	got := len(c.selected)
	if (got == *a.params.Count) != c.negative {
		return true, nil
	}
	return false, expectInfo("", "documents count "+to(c.negative)+" be", *a.params.Count, got, true)
}

// validateContainsDocument: some document has the given kind/apiVersion
// (and name/namespace when set).
func validateContainsDocument(a *assertion, c *vctx) (bool, []string) {
	p := a.params
	found := false
	for _, d := range c.docs {
		md, _ := d.obj["metadata"].(map[string]any)
		if (p.Kind == "" || d.obj["kind"] == p.Kind) &&
			(p.APIVersion == "" || d.obj["apiVersion"] == p.APIVersion) &&
			(p.Name == "" || (md != nil && md["name"] == p.Name)) &&
			(p.Namespace == "" || (md != nil && md["namespace"] == p.Namespace)) {
			found = true
			break
		}
	}
	if found != c.negative {
		return true, nil
	}
	want := map[string]any{"kind": p.Kind, "apiVersion": p.APIVersion}
	if p.Name != "" {
		want["name"] = p.Name
	}
	if p.Namespace != "" {
		want["namespace"] = p.Namespace
	}
	return false, expectInfo("", to(c.negative)+" contain document", want, nil, false)
}

// validateFailedTemplate: the render failed, with errorMessage (exact) or
// errorPattern (regexp) when given. notFailedTemplate is its antonym.
func validateFailedTemplate(a *assertion, c *vctx) (bool, []string) {
	p := a.params
	if p.ErrorMessage != "" && p.ErrorPattern != "" {
		return false, errorInfo("set either 'errorMessage' or 'errorPattern', not both")
	}
	var msgs []string
	if c.renderErr != nil {
		msgs = append(msgs, c.renderErr.Error())
	}
	if c.failed {
		for _, d := range c.selected {
			if s, ok := d.raw(); ok {
				msgs = append(msgs, s)
			}
		}
	}
	matches := func(m string) (bool, error) {
		switch {
		case p.ErrorPattern != "":
			re, err := regexp.Compile(p.ErrorPattern)
			if err != nil {
				re = regexp.MustCompile(regexp.QuoteMeta(p.ErrorPattern))
			}
			return re.MatchString(m), nil
		case p.ErrorMessage != "":
			return m == p.ErrorMessage || strings.HasSuffix(m, ": "+p.ErrorMessage), nil
		}
		return true, nil
	}
	holds := false
	for _, m := range msgs {
		ok, err := matches(m)
		if err != nil {
			return false, errorInfo("%v", err)
		}
		if ok {
			holds = true
			break
		}
	}
	if holds != c.negative {
		return true, nil
	}
	expected := p.ErrorMessage
	word := "equal"
	if p.ErrorPattern != "" {
		expected, word = p.ErrorPattern, "match"
	}
	if len(msgs) == 0 {
		if c.negative {
			return false, errorInfo("the render failed")
		}
		return false, expectInfo("", "render error "+to(c.negative)+" "+word, expected, "No failed document", true)
	}
	return false, expectInfo("", "render error "+to(c.negative)+" "+word, expected, strings.Join(msgs, "\n"), !c.negative)
}

// validateMatchSnapshot: the value at path equals the stored snapshot.
func validateMatchSnapshot(a *assertion, c *vctx) (bool, []string) {
	return eachDoc(c, func(d *document) (bool, []string) {
		vals, err := a.path.find(d)
		if err != nil {
			return false, errorInfo("%v", err)
		}
		if len(vals) == 0 {
			return false, errorInfo("unknown path %s", a.params.Path)
		}
		passed := true
		var info []string
		for _, v := range vals {
			r := c.snapshot(v)
			if r.passed != c.negative {
				continue
			}
			passed = false
			info = append(info, fmt.Sprintf("Path:\t%s", a.params.Path), fmt.Sprintf("Expected %s match snapshot %d:", to(c.negative), r.index))
			info = append(info, indentLines(lineDiff(r.cached, r.current))...)
		}
		return passed, info
	})
}

// lineDiff is a small line diff: "-" lines only in a, "+" only in b.
func lineDiff(a, b string) string {
	al, bl := strings.Split(strings.TrimRight(a, "\n"), "\n"), strings.Split(strings.TrimRight(b, "\n"), "\n")
	var out []string
	out = append(out, "--- Expected", "+++ Actual")
	i, j := 0, 0
	for i < len(al) || j < len(bl) {
		switch {
		case i < len(al) && j < len(bl) && al[i] == bl[j]:
			out = append(out, " "+al[i])
			i++
			j++
		case j < len(bl) && (i >= len(al) || !contains(al[i:], bl[j])):
			out = append(out, "+"+bl[j])
			j++
		default:
			out = append(out, "-"+al[i])
			i++
		}
	}
	return strings.Join(out, "\n")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
