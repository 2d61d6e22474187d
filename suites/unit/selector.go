package unit

import (
	"errors"
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

// docSelector is helm-unittest's documentSelector: pick the documents whose
// value at Path equals Value.
type docSelector struct {
	Path               string
	Value              any
	MatchMany          bool
	SkipEmptyTemplates bool
	path               *compiledPath
}

// UnmarshalYAML reads and compiles the selector.
func (s *docSelector) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Path               string `yaml:"path"`
		Value              any    `yaml:"value"`
		MatchMany          bool   `yaml:"matchMany"`
		SkipEmptyTemplates bool   `yaml:"skipEmptyTemplates"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	if raw.Path == "" {
		return errors.New("documentSelector.path is empty (set path and value)")
	}
	if raw.Value == nil {
		return errors.New("documentSelector.value is empty (set path and value)")
	}
	p, err := compilePath(raw.Path)
	if err != nil {
		return err
	}
	*s = docSelector{Path: raw.Path, Value: raw.Value, MatchMany: raw.MatchMany, SkipEmptyTemplates: raw.SkipEmptyTemplates, path: p}
	return nil
}

// selectDocs filters each template's documents; the total must be exactly
// one unless matchMany is set.
func (s *docSelector) selectDocs(byTemplate map[string][]*document) (map[string][]*document, error) {
	out := map[string][]*document{}
	total := 0
	for tpl, docs := range byTemplate {
		var picked []*document
		for _, d := range docs {
			vals, err := s.path.find(d)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				if reflect.DeepEqual(normalize(v), normalize(s.Value)) {
					picked = append(picked, d)
					break
				}
			}
		}
		total += len(picked)
		if !s.MatchMany && total > 1 {
			return nil, fmt.Errorf("documentSelector %s=%v matches more than one document (set matchMany: true)", s.Path, s.Value)
		}
		if len(picked) > 0 || !s.SkipEmptyTemplates {
			out[tpl] = picked
		}
	}
	if total == 0 && !s.SkipEmptyTemplates {
		return nil, fmt.Errorf("documentSelector %s=%v matches no document", s.Path, s.Value)
	}
	return out, nil
}

// selectByIndex keeps the index-th document of each template.
func selectByIndex(idx int, byTemplate map[string][]*document) (map[string][]*document, error) {
	out := map[string][]*document{}
	for tpl, docs := range byTemplate {
		if idx < 0 || idx >= len(docs) {
			return nil, fmt.Errorf("document index %d is out of range (%s has %d documents)", idx, tpl, len(docs))
		}
		out[tpl] = []*document{docs[idx]}
	}
	return out, nil
}
