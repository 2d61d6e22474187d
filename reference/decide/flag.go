package decide

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// flagFilters is the filters column of feature_flags, in PostHog's format.
type flagFilters struct {
	Groups       []conditionJSON            `json:"groups"`
	Multivariate *multivariateJSON          `json:"multivariate"`
	Payloads     map[string]json.RawMessage `json:"payloads"`
	// AggregationGroupTypeIndex marks a group-aggregated flag: it is evaluated for the
	// request's group of that type (group_type_mapping), not for the distinct_id.
	AggregationGroupTypeIndex *int `json:"aggregation_group_type_index"`
}

type conditionJSON struct {
	Properties        []propertyJSON `json:"properties"`
	RolloutPercentage *float64       `json:"rollout_percentage"`
	Variant           *string        `json:"variant"`
	// AggregationGroupTypeIndex, when it differs from the flag's, is PostHog's mixed
	// targeting (not evaluated here).
	AggregationGroupTypeIndex *int `json:"aggregation_group_type_index"`
}

type multivariateJSON struct {
	Variants []variantJSON `json:"variants"`
}

type variantJSON struct {
	Key               string  `json:"key"`
	RolloutPercentage float64 `json:"rollout_percentage"`
}

// personAggregation is flag.groupIndex for a flag evaluated per person.
const personAggregation = -1

// flag is one compiled feature flag, ready to evaluate.
type flag struct {
	id         int64 // feature_flags.id, the SDKs' metadata.id
	key        string
	conditions []condition
	variants   []variant
	payloads   map[string]json.RawMessage
	// groupIndex is the group type index the flag is aggregated by, or
	// personAggregation: whose key it hashes and whose properties it reads.
	groupIndex int
	// propKeys are the property keys the flag's filters read, of the person or of
	// the group (groupIndex).
	propKeys []string
	// unsupported says why the flag cannot be evaluated here; empty when it can.
	unsupported string
}

// condition is one filter group: all props must match, then the rollout applies.
type condition struct {
	props []propertyFilter
	// rollout is rollout_percentage/100; hasRollout is false when it was null (everyone).
	rollout    float64
	hasRollout bool
	// variant forces a variant for matching users, when set and valid.
	variant string
}

// variant is one multivariate option with its cumulative hash range [min, max).
type variant struct {
	key      string
	min, max float64
}

// compileFlag parses a flag's filters. An error means the filters are not valid JSON
// in PostHog's shape; a flag that parses but uses features this package does not
// evaluate is returned with unsupported set.
func compileFlag(key string, filters []byte) (*flag, error) {
	var ff flagFilters
	dec := json.NewDecoder(bytes.NewReader(filters))
	dec.UseNumber()
	if err := dec.Decode(&ff); err != nil {
		return nil, fmt.Errorf("flag %q: parse filters: %w", key, err)
	}
	f := &flag{key: key, payloads: ff.Payloads, groupIndex: personAggregation}
	if ff.AggregationGroupTypeIndex != nil {
		f.groupIndex = *ff.AggregationGroupTypeIndex
	}
	if ff.Multivariate != nil {
		lo := 0.0
		for _, v := range ff.Multivariate.Variants {
			hi := lo + v.RolloutPercentage/100
			f.variants = append(f.variants, variant{key: v.Key, min: lo, max: hi})
			lo = hi
		}
	}
	keys := map[string]struct{}{}
	for i, g := range ff.Groups {
		c := condition{}
		if g.RolloutPercentage != nil {
			c.hasRollout = true
			c.rollout = *g.RolloutPercentage / 100
		}
		if g.Variant != nil && f.hasVariant(*g.Variant) {
			c.variant = *g.Variant
		}
		if a := g.AggregationGroupTypeIndex; a != nil && *a != f.groupIndex && f.unsupported == "" {
			f.unsupported = fmt.Sprintf("group %d is aggregated by group type index %d, not as its flag: mixed targeting is not evaluated", i, *a)
		}
		for j, p := range g.Properties {
			pf, err := compileProperty(p, f.groupIndex)
			if err != nil {
				return nil, fmt.Errorf("flag %q: group %d property %d: %w", key, i, j, err)
			}
			if pf.unsupported != "" {
				if f.unsupported == "" {
					f.unsupported = pf.unsupported
				}
			} else {
				keys[pf.key] = struct{}{}
			}
			c.props = append(c.props, pf)
		}
		f.conditions = append(f.conditions, c)
	}
	// PostHog evaluates groups that force a variant first.
	sort.SliceStable(f.conditions, func(i, j int) bool {
		return f.conditions[i].variant != "" && f.conditions[j].variant == ""
	})
	for k := range keys {
		f.propKeys = append(f.propKeys, k)
	}
	sort.Strings(f.propKeys)
	return f, nil
}

func (f *flag) hasVariant(key string) bool {
	for _, v := range f.variants {
		if v.key == key {
			return true
		}
	}
	return false
}
