package decide

import "encoding/json"

// Reasons reported per flag in v=4 answers, named as PostHog names them.
const (
	reasonConditionMatch   = "condition_match"
	reasonNoConditionMatch = "no_condition_match"
	reasonOutOfRollout     = "out_of_rollout_bound"
	// reasonNoGroupType: a group-aggregated flag whose group type the request has no
	// key for (or that the team has not mapped); the flag is false.
	reasonNoGroupType = "no_group_type"
	reasonUnsupported = "unsupported"
)

// subject is what a flag is evaluated for: the person (id is the distinct_id) or one
// group (id is the group key), with its properties. known is false when its stored
// properties could not be read, so props holds only the request's.
type subject struct {
	id    string
	props map[string]any
	known bool
}

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

// evaluation is a team's flags evaluated for one distinct_id and its groups.
type evaluation struct {
	flags []flagValue
	// errors is true when at least one flag could not be evaluated; such flags
	// are false, or absent when they needed person properties that could not be read.
	errors bool
}

// evaluate computes every flag of t: person flags for person, group-aggregated flags
// for the group of their type in groups (by type name). A flag whose subject's stored
// properties could not be read and that needs a property the request lacks is left
// out; a group flag without its group is false (reasonNoGroupType).
func (t *team) evaluate(person subject, groups map[string]subject) evaluation {
	ev := evaluation{flags: make([]flagValue, 0, len(t.flags))}
	for _, f := range t.flags {
		s, ok := t.subjectOf(f, person, groups)
		var v flagValue
		switch {
		case f.unsupported != "" || ok && (s.known || hasAll(s.props, f.propKeys)):
			v = f.evaluate(s.id, s.props)
		case !ok:
			v = f.noGroupType()
		default:
			ev.errors = true
			continue
		}
		if v.reason == reasonUnsupported {
			ev.errors = true
		}
		ev.flags = append(ev.flags, v)
	}
	return ev
}

// subjectOf returns whom f is evaluated for: person, or the group of f's type; ok is
// false when f is aggregated by a type the team has not mapped or the request has no
// group of.
func (t *team) subjectOf(f *flag, person subject, groups map[string]subject) (subject, bool) {
	if f.groupIndex == personAggregation {
		return person, true
	}
	name, mapped := t.groupTypes[f.groupIndex]
	if !mapped {
		return subject{}, false
	}
	g, ok := groups[name]
	return g, ok
}

// noGroupType is f's answer when its group is missing: false, as PostHog answers.
func (f *flag) noGroupType() flagValue {
	return flagValue{id: f.id, key: f.key, reason: reasonNoGroupType, condition: -1}
}

// evaluate returns f's value for distinctID (a group key for a group-aggregated
// flag), following PostHog: the first condition group (variant overrides first)
// whose properties match and whose rollout admits the id decides; the variant is
// the group's override, else the one whose range holds the variant hash; without
// variants the flag is true.
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
