package unit

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// suite is one helm-unittest suite file.
type suite struct {
	Name             string           `yaml:"suite"`
	Templates        []string         `yaml:"templates"`
	ExcludeTemplates []string         `yaml:"excludeTemplates"`
	Values           []string         `yaml:"values"`
	Set              map[string]any   `yaml:"set"`
	Release          releaseSpec      `yaml:"release"`
	Capabilities     capabilitiesSpec `yaml:"capabilities"`
	Chart            chartSpec        `yaml:"chart"`
	Tests            []*job           `yaml:"tests"`

	file string // path of the suite file
}

// releaseSpec is the `release` block of a suite or case.
type releaseSpec struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	Revision  int    `yaml:"revision"`
	Upgrade   bool   `yaml:"upgrade"`
}

// capabilitiesSpec is the `capabilities` block of a suite or case.
type capabilitiesSpec struct {
	MajorVersion string   `yaml:"majorVersion"`
	MinorVersion string   `yaml:"minorVersion"`
	APIVersions  []string `yaml:"apiVersions"`
}

// chartSpec is the `chart` block: metadata overrides.
type chartSpec struct {
	Version    string `yaml:"version"`
	AppVersion string `yaml:"appVersion"`
}

// job is one `it` case of a suite.
type job struct {
	It               string           `yaml:"it"`
	Values           []string         `yaml:"values"`
	Set              map[string]any   `yaml:"set"`
	Template         string           `yaml:"template"`
	Templates        []string         `yaml:"templates"`
	DocumentIndex    *int             `yaml:"documentIndex"`
	DocumentSelector *docSelector     `yaml:"documentSelector"`
	Release          releaseSpec      `yaml:"release"`
	Capabilities     capabilitiesSpec `yaml:"capabilities"`
	Chart            chartSpec        `yaml:"chart"`
	Asserts          []*assertion     `yaml:"asserts"`
	Skip             struct {
		Reason string `yaml:"reason"`
	} `yaml:"skip"`
}

// loadSuite reads and parses one suite file.
func loadSuite(file string) (*suite, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read test suite %s: %w (check the -f glob)", file, err)
	}
	var s suite
	if err := yaml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse test suite %s: %w (fix the YAML or the assertion named)", file, err)
	}
	s.file = file
	if s.Name == "" {
		s.Name = filepath.Base(file)
	}
	if len(s.Tests) == 0 {
		return nil, fmt.Errorf("test suite %s has no tests (add a `tests:` list)", file)
	}
	for i, j := range s.Tests {
		if j == nil {
			return nil, fmt.Errorf("test suite %s: tests[%d] is empty", file, i)
		}
		if len(j.Asserts) == 0 {
			return nil, fmt.Errorf("test suite %s: %q has no asserts (add at least one)", file, j.It)
		}
	}
	return &s, nil
}

// merged returns the case's release block over the suite's.
func (r releaseSpec) over(base releaseSpec) releaseSpec {
	out := base
	if r.Name != "" {
		out.Name = r.Name
	}
	if r.Namespace != "" {
		out.Namespace = r.Namespace
	}
	if r.Revision != 0 {
		out.Revision = r.Revision
	}
	if r.Upgrade {
		out.Upgrade = true
	}
	return out
}

// over returns the case's capabilities over the suite's.
func (c capabilitiesSpec) over(base capabilitiesSpec) capabilitiesSpec {
	out := base
	if c.MajorVersion != "" {
		out.MajorVersion = c.MajorVersion
	}
	if c.MinorVersion != "" {
		out.MinorVersion = c.MinorVersion
	}
	out.APIVersions = append(append([]string{}, base.APIVersions...), c.APIVersions...)
	return out
}

// over returns the case's chart metadata overrides over the suite's.
func (c chartSpec) over(base chartSpec) chartSpec {
	out := base
	if c.Version != "" {
		out.Version = c.Version
	}
	if c.AppVersion != "" {
		out.AppVersion = c.AppVersion
	}
	return out
}
