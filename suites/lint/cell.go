package lint

import (
	"fmt"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shakedown-dev/shakedown/suites/lint/kubeschema"
)

// linter holds what every cell of a run shares. Cells only read it, except
// through its synchronized parts: helmRuns (sync.Once), remaining (atomics)
// and schemas (safe for concurrent use).
type linter struct {
	plan    plan
	scheme  *runtime.Scheme
	apis    apiTable
	storage storageTable
	rules   map[string]Rule
	// schemas loads the OpenAPI spec of each version once; remaining counts
	// the cells of each version still to finish, to release the spec after.
	schemas   *kubeschema.Source
	remaining map[string]*atomic.Int32
	// helmRuns holds helm lint's outcome per overlay, run once for its cells.
	helmRuns map[string]*helmLintRun
}

// cellRun collects the findings of one cell.
type cellRun struct {
	*linter
	cell    Cell
	version kubeVersion
	values  map[string]any
	// objects are the cell's rendered objects while it runs; objectCount
	// counts them after, when they are dropped.
	objects     []*object
	objectCount int
	// declaredWaivers are the objects' waivers, listed before the objects are dropped.
	declaredWaivers []Waiver
	findings        []Finding
	// waiverUse counts findings downgraded per object waiver, keyed by waiverKey.
	waiverUse map[string]int
}

// add records a finding of rule about o (nil for none), applying o's waiver.
func (c *cellRun) add(rule string, o *object, field, message string) {
	r := c.rules[rule]
	f := Finding{Rule: rule, Severity: r.Severity, Field: field, Message: message, Fix: r.Fix, Cells: []Cell{c.cell}}
	if o != nil {
		f.Object, f.File, f.Hook = o.ref, o.file, o.hookEvents()
		f.place = fmt.Sprintf("%d/%d/%s", o.doc, o.item, o.ref.Kind)
		if o.ref.Name != "" {
			// Findings merge over cells by the object's place in the render, so a
			// name made per render ("job-{{ now | date ... }}") does not multiply them.
			f.anonMessage = strings.ReplaceAll(message, o.ref.Name, "\x01")
		}
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
