package lint

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// Annotations read by the lint layer.
const (
	// WaiveAnnotation lists rule IDs the object waives, comma-separated: "SD004,SD006".
	WaiveAnnotation = "shakedown.dev/waive"
	// WaiveReasonAnnotation says why, and is copied into the report.
	WaiveReasonAnnotation = "shakedown.dev/waive-reason"
	// hookAnnotation marks Helm hooks (tests, jobs run around installs).
	hookAnnotation = "helm.sh/hook"
)

// object is one rendered Kubernetes object of one cell.
type object struct {
	file string
	doc  int
	// item is the 1-based position in a `kind: List` document, 0 outside one.
	item        int
	ref         ObjectRef
	labels      map[string]string
	annotations map[string]string
	// typed is the decoded k8s.io/api object; nil when the kind has no known
	// schema or the object does not decode.
	typed runtime.Object
	// raw is the object as JSON-like data.
	raw map[string]any
	// pending are the typed decoding's type and unknown-field findings, which
	// the schema check reports or drops.
	pending []pendingFinding
	// unchecked says why no schema is known for the object's kind, when the
	// schema check finds none either; "" when the kind is typed or not served.
	unchecked string
}

// pendingFinding is a finding held back until the schema check.
type pendingFinding struct {
	rule, field, message string
}

// hook reports whether the object is a Helm hook.
func (o *object) hook() bool {
	_, ok := o.annotations[hookAnnotation]
	return ok
}

// waivedRules returns the rule IDs of the waive annotation.
func (o *object) waivedRules() []string {
	var ids []string
	for id := range strings.SplitSeq(o.annotations[WaiveAnnotation], ",") {
		if id = strings.ToUpper(strings.TrimSpace(id)); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// waives reports whether the object waives rule.
func (o *object) waives(rule string) bool {
	for _, id := range o.waivedRules() {
		if id == rule {
			return true
		}
	}
	return false
}

// where names the object's place in the render, e.g. "templates/web.yaml (document 2)".
func (o *object) where() string {
	s := fmt.Sprintf("%s (document %d", o.file, o.doc)
	if o.item > 0 {
		s += ", " + fieldIndex("items", o.item-1)
	}
	return s + ")"
}

// hookEvents returns the object's helm.sh/hook annotation, "" when it is no hook.
func (o *object) hookEvents() string { return strings.TrimSpace(o.annotations[hookAnnotation]) }
