package lint

import (
	"fmt"
	"slices"
	"strings"
)

// Cell is one point of the lint matrix: a cloud overlay on a Kubernetes version.
type Cell struct {
	// Cloud names the overlay (values/<cloud>.yaml), or "default" without one.
	Cloud string `json:"cloud"`
	// KubeVersion is the Kubernetes version, e.g. "1.34.4".
	KubeVersion string `json:"kubeVersion"`
}

// String renders "cloud@version".
func (c Cell) String() string { return c.Cloud + "@" + c.KubeVersion }

// ObjectRef names a rendered Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
}

// String renders "Kind/name", or "" for a finding about no object.
func (o ObjectRef) String() string {
	if o.Kind == "" && o.Name == "" {
		return ""
	}
	return o.Kind + "/" + o.Name
}

// Finding is one result of a rule, merged over every cell where it occurred.
type Finding struct {
	// Rule is the rule ID, e.g. "SD006".
	Rule string `json:"rule"`
	// Severity is the rule's severity; a waived finding keeps it but does not fail the run.
	Severity Severity `json:"severity"`
	// Object is the object the finding is about, if any.
	Object ObjectRef `json:"object,omitzero"`
	// File is the chart file that rendered the object, e.g. "templates/web.yaml".
	File string `json:"file,omitempty"`
	// Field is the offending field path, when known.
	Field string `json:"field,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Fix says how to make the finding go away.
	Fix string `json:"fix,omitempty"`
	// Waived is true when the object waives the rule.
	Waived bool `json:"waived,omitempty"`
	// WaiverReason is the object's shakedown.dev/waive-reason, if any.
	WaiverReason string `json:"waiverReason,omitempty"`
	// Hook is the object's helm.sh/hook annotation ("test", "pre-install,pre-upgrade")
	// when it is a Helm hook or test, which Helm creates apart from the release's objects.
	Hook string `json:"hook,omitempty"`
	// Cells lists where the finding occurred.
	Cells []Cell `json:"cells"`

	// place and anonMessage identify the finding's object by its position in
	// the render rather than by name, for merging over cells.
	place, anonMessage string
}

// Failing reports whether the finding fails the run.
func (f Finding) Failing() bool { return f.Severity == SeverityError && !f.Waived }

// key identifies a finding independently of the cell.
func (f Finding) key() string {
	if f.place != "" && f.anonMessage != "" {
		return strings.Join([]string{f.Rule, string(f.Severity), f.Object.APIVersion, f.place,
			f.Object.Namespace, f.File, f.Field, f.anonMessage}, "\x00")
	}
	return strings.Join([]string{f.Rule, string(f.Severity), f.Object.APIVersion, f.Object.Kind,
		f.Object.Namespace, f.Object.Name, f.File, f.Field, f.Message}, "\x00")
}

// Waiver is one rule waived by one object's annotation.
type Waiver struct {
	Object ObjectRef `json:"object"`
	File   string    `json:"file,omitempty"`
	Rule   string    `json:"rule"`
	Reason string    `json:"reason,omitempty"`
	// Used counts the findings the waiver downgraded, over all cells.
	Used int `json:"used"`
	// Problem is set when the waiver cannot apply (unknown or unwaivable rule).
	Problem string `json:"problem,omitempty"`
}

// Report is the outcome of [Run].
type Report struct {
	// Chart is the chart that was linted: its directory or packaged .tgz, as given.
	Chart string `json:"chart"`
	// Clouds and KubeVersions span the matrix; every pair is a cell.
	Clouds       []string `json:"clouds"`
	KubeVersions []string `json:"kubeVersions"`
	// Objects counts rendered objects checked, summed over cells.
	Objects int `json:"objects"`
	// Findings, most severe first.
	Findings []Finding `json:"findings"`
	// Waivers declared by the chart's objects.
	Waivers []Waiver `json:"waivers"`
	// Rules is the catalog of rules that were run.
	Rules []Rule `json:"rules"`
}

// Cells returns every cell of the matrix, clouds outermost.
func (r Report) Cells() []Cell {
	cells := make([]Cell, 0, len(r.Clouds)*len(r.KubeVersions))
	for _, c := range r.Clouds {
		for _, v := range r.KubeVersions {
			cells = append(cells, Cell{Cloud: c, KubeVersion: v})
		}
	}
	return cells
}

// Failed reports whether any unwaived error was found.
func (r Report) Failed() bool {
	return slices.ContainsFunc(r.Findings, Finding.Failing)
}

// Counts tallies the findings by outcome.
type Counts struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Notices  int `json:"notices"`
	Waived   int `json:"waived"`
}

// Count tallies the report's findings.
func (r Report) Count() Counts {
	var c Counts
	for _, f := range r.Findings {
		switch {
		case f.Waived:
			c.Waived++
		case f.Severity == SeverityError:
			c.Errors++
		case f.Severity == SeverityWarning:
			c.Warnings++
		default:
			c.Notices++
		}
	}
	return c
}

// Summary is a one-line verdict, e.g. "2 errors, 1 warning, 0 notices, 1 waived over 15 renders".
func (r Report) Summary() string {
	c := r.Count()
	return fmt.Sprintf("%d errors, %d warnings, %d notices, %d waived over %d renders (%d clouds × %d Kubernetes versions), %d objects",
		c.Errors, c.Warnings, c.Notices, c.Waived, len(r.Clouds)*len(r.KubeVersions), len(r.Clouds), len(r.KubeVersions), r.Objects)
}

// Find returns the findings of a rule, for tests and callers that gate on one rule.
func (r Report) Find(rule string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}
