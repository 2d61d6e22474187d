package lint

import "fmt"

// waivers lists the cell's declared waivers with how often each was used.
func (c *cellRun) waivers() []Waiver {
	var out []Waiver
	for _, o := range c.objects {
		for _, id := range o.waivedRules() {
			w := Waiver{Object: o.ref, File: o.file, Rule: id, Reason: o.annotations[WaiveReasonAnnotation],
				Used: c.waiverUse[waiverKey(o.ref, o.file, id)]}
			switch r, ok := c.rules[id]; {
			case !ok:
				w.Problem = fmt.Sprintf("unknown rule %s; see `shakedown lint --rules` for the IDs", id)
			case !r.Waivable:
				w.Problem = fmt.Sprintf("rule %s cannot be waived: the object would not install or run", id)
			}
			out = append(out, w)
		}
	}
	return out
}
