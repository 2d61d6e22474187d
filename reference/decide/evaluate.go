package decide

import "encoding/json"

// Reasons reported per flag in v=4 answers, named as PostHog names them.
const (
	reasonConditionMatch   = "condition_match"
	reasonNoConditionMatch = "no_condition_match"
	reasonOutOfRollout     = "out_of_rollout_bound"
	reasonUnsupported      = "unsupported"
)

// flagValue is one flag's answer: false, true or a variant key.
type flagValue struct {
	id      int64
	key     string
	enabled bool
	variant string
	reason  string
	// condition is the index of the matching (or last rejecting) group, -1 if none.
	condition int
	payload   json.RawMessage
}

// value returns the v3 form: false, true or the variant key.
func (v flagValue) value() any {
	if v.variant != "" {
		return v.variant
	}
	return v.enabled
}

// evaluation is a team's flags evaluated for one distinct_id.
type evaluation struct {
	flags []flagValue
	// errors is true when at least one flag could not be evaluated; such flags
	// are false, or absent when they needed person properties that could not be read.
	errors bool
}

// evaluate computes every flag of t for distinctID. props holds the person's
// properties; personKnown is false when they could not be read from the database,
// in which case flags needing a property absent from props are left out.
func (t *team) evaluate(distinctID string, props map[string]any, personKnown bool) evaluation {
	ev := evaluation{flags: make([]flagValue, 0, len(t.flags))}
	for _, f := range t.flags {
		if !personKnown && !hasAll(props, f.propKeys) {
			ev.errors = true
			continue
		}
		v := f.evaluate(distinctID, props)
		if v.reason == reasonUnsupported {
			ev.errors = true
		}
		ev.flags = append(ev.flags, v)
	}
	return ev
}

// evaluate returns f's value for distinctID, following PostHog: the first group
// (variant overrides first) whose properties match and whose rollout admits the
// distinct_id decides; the variant is the group's override, else the one whose
// range holds the variant hash; without variants the flag is true.
func (f *flag) evaluate(distinctID string, props map[string]any) flagValue {
	out := flagValue{id: f.id, key: f.key, reason: reasonNoConditionMatch, condition: -1}
	if f.unsupported != "" {
		out.reason = reasonUnsupported
		return out
	}
	hash := -1.0
	for i, c := range f.conditions {
		if !c.matches(props) {
			continue
		}
		if c.hasRollout {
			if hash < 0 {
				hash = bucket(f.key, distinctID, "")
			}
			if hash > c.rollout {
				out.reason, out.condition = reasonOutOfRollout, i
				continue
			}
		}
		out.enabled, out.reason, out.condition = true, reasonConditionMatch, i
		out.variant = c.variant
		if out.variant == "" && len(f.variants) > 0 {
			out.variant = f.pickVariant(distinctID)
		}
		payloadKey := "true"
		if out.variant != "" {
			payloadKey = out.variant
		}
		out.payload = f.payloads[payloadKey]
		return out
	}
	return out
}

func (c *condition) matches(props map[string]any) bool {
	for i := range c.props {
		if !c.props[i].match(props) {
			return false
		}
	}
	return true
}

// pickVariant returns the variant whose [min, max) range holds the distinct_id's
// variant hash, or "" when the percentages sum to less than the hash.
func (f *flag) pickVariant(distinctID string) string {
	h := bucket(f.key, distinctID, variantSalt)
	for _, v := range f.variants {
		if h >= v.min && h < v.max {
			return v.key
		}
	}
	return ""
}

func hasAll(props map[string]any, keys []string) bool {
	for _, k := range keys {
		if _, ok := props[k]; !ok {
			return false
		}
	}
	return true
}
