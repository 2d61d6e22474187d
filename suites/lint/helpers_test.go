package lint

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// lintChart runs the linter and fails the test on a run error.
func lintChart(t testing.TB, opts Options) Report {
	t.Helper()
	r, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run(%s): %v", opts.ChartDir, err)
	}
	return r
}

// findingsOf returns the findings of rule about the object kind/name.
func findingsOf(r Report, rule, kind, name string) []Finding {
	var out []Finding
	for _, f := range r.Find(rule) {
		if f.Object.Kind == kind && f.Object.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// mustFind fails unless exactly the findings of rule about kind/name exist, and
// one of them has a message containing want; it returns that finding.
func mustFind(t *testing.T, r Report, rule, kind, name, want string) Finding {
	t.Helper()
	fs := findingsOf(r, rule, kind, name)
	for _, f := range fs {
		if strings.Contains(f.Message, want) {
			return f
		}
	}
	var msgs []string
	for _, f := range fs {
		msgs = append(msgs, f.Message)
	}
	t.Fatalf("no %s finding on %s/%s containing %q; have %d: %q", rule, kind, name, want, len(fs), msgs)
	return Finding{}
}

// cellsText renders cells for failure messages.
func cellsText(cells []Cell) string {
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = c.String()
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// renderedAPIVersion renders chart for one Kubernetes version (no overlay) and
// returns the apiVersion of its first object of kind.
func renderedAPIVersion(t *testing.T, chart, version, kind string) string {
	t.Helper()
	p, err := Options{ChartDir: chart, KubeVersions: []string{version}, Clouds: []string{DefaultCloud}}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLinter(p)
	if err != nil {
		t.Fatal(err)
	}
	c := l.newCell(p.overlays[0], p.versions[0])
	files, ok := c.render(t.Context())
	if !ok {
		t.Fatalf("render for %s failed: %+v", version, c.findings)
	}
	for _, f := range files {
		c.decodeFile(f.name, f.content)
	}
	for _, o := range c.objects {
		if o.ref.Kind == kind {
			return o.ref.APIVersion
		}
	}
	t.Fatalf("no %s rendered for %s", kind, version)
	return ""
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func itoa(i int) string { return strconv.Itoa(i) }
