package lint

import (
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// podSelector is a label selector read from an object, any apiVersion.
type podSelector struct {
	obj      *object
	selector labels.Selector
}

// selectorsOf returns the selectors at path (e.g. "spec", "podSelector") of
// every object of kind in group. A selector that is absent selects nothing;
// an empty one selects every pod of the namespace.
func (c *cellRun) selectorsOf(group, kind string, path ...string) []podSelector {
	var out []podSelector
	for _, o := range c.objects {
		if o.ref.Kind != kind || groupOf(o.ref.APIVersion) != group {
			continue
		}
		m, found, err := unstructured.NestedFieldNoCopy(o.raw, path...)
		if err != nil || !found || m == nil {
			continue
		}
		sel, err := toSelector(m)
		if err != nil {
			c.add(RuleDecode, o, joinPath(path), fmt.Sprintf("%s is not a label selector: %v", joinPath(path), err))
			continue
		}
		out = append(out, podSelector{obj: o, selector: sel})
	}
	return out
}

// toSelector converts a JSON-like label selector.
func toSelector(v any) (labels.Selector, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var ls metav1.LabelSelector
	if err := json.Unmarshal(data, &ls); err != nil {
		return nil, err
	}
	return metav1.LabelSelectorAsSelector(&ls)
}

// matching returns the selectors in namespace ns that select pods with lbls.
func matching(sels []podSelector, ns string, lbls map[string]string) []podSelector {
	var out []podSelector
	for _, s := range sels {
		if s.obj.ref.Namespace == ns && s.selector.Matches(labels.Set(lbls)) {
			out = append(out, s)
		}
	}
	return out
}

// groupOf returns the API group of an apiVersion ("" for the core group).
func groupOf(apiVersion string) string {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return group
}

func joinPath(path []string) string { return strings.Join(path, ".") }
