package lint

import (
	"k8s.io/apimachinery/pkg/runtime"
)

// linter holds what every cell of a run shares; it is not modified while cells run.
type linter struct {
	plan    plan
	scheme  *runtime.Scheme
	apis    apiTable
	storage storageTable
	rules   map[string]Rule
}

// cellRun collects the findings of one cell.
type cellRun struct {
	*linter
	cell     Cell
	version  kubeVersion
	values   map[string]any
	objects  []*object
	findings []Finding
	// waiverUse counts findings downgraded per object waiver, keyed by waiverKey.
	waiverUse map[string]int
}

// add records a finding of rule about o (nil for none), applying o's waiver.
func (c *cellRun) add(rule string, o *object, field, message string) {
	r := c.rules[rule]
	f := Finding{Rule: rule, Severity: r.Severity, Field: field, Message: message, Fix: r.Fix, Cells: []Cell{c.cell}}
	if o != nil {
		f.Object, f.File = o.ref, o.file
		if r.Waivable && o.waives(rule) {
			f.Waived, f.WaiverReason = true, o.annotations[WaiveReasonAnnotation]
			c.waiverUse[waiverKey(o.ref, o.file, rule)]++
		}
	}
	c.findings = append(c.findings, f)
}

// addFile records a finding about a file rather than an object.
func (c *cellRun) addFile(rule, file, message string) {
	c.add(rule, nil, "", message)
	c.findings[len(c.findings)-1].File = file
}

func waiverKey(ref ObjectRef, file, rule string) string {
	return ref.APIVersion + "\x00" + ref.Kind + "\x00" + ref.Namespace + "\x00" + ref.Name + "\x00" + file + "\x00" + rule
}
