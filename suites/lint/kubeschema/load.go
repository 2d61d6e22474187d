package kubeschema

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// gvk names a kind served by a group-version.
type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// apiVersion returns "group/version", or "version" for the core group.
func (k gvk) apiVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// metaPrefix names the definitions of meta/v1 (DeleteOptions, WatchEvent,
// Status...), which carry the kinds of every group but are not resources.
const metaPrefix = "io.k8s.apimachinery.pkg.apis.meta."

// parsedFile is what one spec file contributes to a Spec.
type parsedFile struct {
	defs  map[string]*spec.Schema // normalized definitions not known before
	kinds map[gvk]string          // kinds served → definition name
}

// parseFile parses the definitions of a v3 file (components.schemas) or of
// swagger.json (definitions). Definitions for which known returns true are
// skipped: a version's files repeat the same shared definitions (ObjectMeta,
// PodSpec...). When only is set, kinds of other group-versions are ignored.
// Enum values of rules are added to the new definitions.
func parseFile(name string, only *gvk, known func(string) bool, rules map[string][]enumRule) (parsedFile, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return parsedFile{}, err
	}
	var doc struct {
		Components struct {
			Schemas map[string]*spec.Schema `json:"schemas"`
		} `json:"components"`
		Definitions map[string]*spec.Schema `json:"definitions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return parsedFile{}, fmt.Errorf("%s: %w", name, err)
	}
	data = nil
	defs := doc.Components.Schemas
	if defs == nil {
		defs = doc.Definitions
	}
	out := parsedFile{defs: map[string]*spec.Schema{}, kinds: map[gvk]string{}}
	for defName, s := range defs {
		if s == nil {
			continue
		}
		for _, k := range kindsOf(s.Extensions) {
			if !strings.HasPrefix(defName, metaPrefix) && (only == nil || (k.Group == only.Group && k.Version == only.Version)) {
				out.kinds[k] = defName
			}
		}
		if known(defName) {
			continue
		}
		normalize(s)
		for _, r := range rules[defName] {
			applyEnum(s, r.path, r.values)
		}
		out.defs[defName] = s
	}
	return out, nil
}

// scanKinds reads only the kinds a spec file serves, without its schemas.
func scanKinds(name string, only *gvk) ([]gvk, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	type light struct {
		Kinds []gvk `json:"x-kubernetes-group-version-kind"`
	}
	var doc struct {
		Components struct {
			Schemas map[string]light `json:"schemas"`
		} `json:"components"`
		Definitions map[string]light `json:"definitions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defs := doc.Components.Schemas
	if defs == nil {
		defs = doc.Definitions
	}
	var kinds []gvk
	for defName, d := range defs {
		for _, k := range d.Kinds {
			if !strings.HasPrefix(defName, metaPrefix) && (only == nil || (k.Group == only.Group && k.Version == only.Version)) {
				kinds = append(kinds, k)
			}
		}
	}
	return kinds, nil
}

// kindsOf decodes x-kubernetes-group-version-kind.
func kindsOf(ext spec.Extensions) []gvk {
	raw, ok := ext["x-kubernetes-group-version-kind"]
	if !ok {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	var kinds []gvk
	_ = json.Unmarshal(b, &kinds)
	return kinds
}

// Extensions kept by normalize; all others (list types, patch strategies,
// group-version-kinds...) are dropped to save memory.
const (
	extPreserveUnknown  = "x-kubernetes-preserve-unknown-fields"
	extEmbeddedResource = "x-kubernetes-embedded-resource"
	extIntOrString      = "x-kubernetes-int-or-string"
)

// normalize prepares a parsed schema for validation, in place: it drops
// what validation does not read (descriptions, defaults, examples, most
// extensions) and turns the `allOf: [{$ref}]` wrapper Kubernetes uses for
// references with a description or default into a plain $ref.
func normalize(s *spec.Schema) {
	s.Description = ""
	s.Title = ""
	s.Default = nil
	s.Example = nil
	s.ExternalDocs = nil
	s.ExtraProps = nil
	if len(s.Extensions) > 0 {
		var kept spec.Extensions
		for k, v := range s.Extensions {
			switch strings.ToLower(k) {
			case extPreserveUnknown, extEmbeddedResource, extIntOrString:
				if kept == nil {
					kept = spec.Extensions{}
				}
				kept[strings.ToLower(k)] = v
			}
		}
		s.Extensions = kept
	}
	if len(s.AllOf) == 1 && s.AllOf[0].Ref.String() != "" && len(s.Type) == 0 && len(s.Properties) == 0 {
		s.Ref = s.AllOf[0].Ref
		s.AllOf = nil
	}
	for k, p := range s.Properties {
		normalize(&p)
		s.Properties[k] = p
	}
	for k, p := range s.PatternProperties {
		normalize(&p)
		s.PatternProperties[k] = p
	}
	if s.Items != nil {
		if s.Items.Schema != nil {
			normalize(s.Items.Schema)
		}
		for i := range s.Items.Schemas {
			normalize(&s.Items.Schemas[i])
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		normalize(s.AdditionalProperties.Schema)
	}
	if s.AdditionalItems != nil && s.AdditionalItems.Schema != nil {
		normalize(s.AdditionalItems.Schema)
	}
	for _, list := range [][]spec.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range list {
			normalize(&list[i])
		}
	}
	if s.Not != nil {
		normalize(s.Not)
	}
}

// applyEnum sets the enum values of the node at path (property names, "[]"
// for array items, "{}" for map values) below s. Nodes behind a $ref are left
// alone: Kubernetes enums are on plain string fields.
func applyEnum(s *spec.Schema, path []string, values []any) {
	if len(path) == 0 {
		if s.Ref.String() == "" {
			s.Enum = values
		}
		return
	}
	switch seg := path[0]; seg {
	case "[]":
		if s.Items != nil && s.Items.Schema != nil {
			applyEnum(s.Items.Schema, path[1:], values)
		}
	case "{}":
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			applyEnum(s.AdditionalProperties.Schema, path[1:], values)
		}
	default:
		if p, ok := s.Properties[seg]; ok {
			applyEnum(&p, path[1:], values)
			s.Properties[seg] = p
		}
	}
}
