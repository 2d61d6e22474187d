package unit

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/helm-unittest/helm-unittest/pkg/unittest/formatter"
	"github.com/helm-unittest/helm-unittest/pkg/unittest/printer"
	"github.com/helm-unittest/helm-unittest/pkg/unittest/results"
)

// Encoder writes a report in one format.
type Encoder func(w io.Writer, r Report) error

// Formats lists the formats of [EncoderFor]: text and JSON for reading, and
// helm-unittest's XML report types for CI tools.
func Formats() []string { return append([]string{"text", "json", "md", "html"}, XMLFormats()...) }

// XMLFormats lists helm-unittest's report types among [Formats].
func XMLFormats() []string { return []string{"junit", "nunit", "xunit", "sonar"} }

// EncoderFor returns the encoder of a format named as in [Formats], in any
// case (helm-unittest users type `-t JUnit`).
func EncoderFor(format string) (Encoder, error) {
	switch strings.ToLower(format) {
	case "text", "":
		return EncodeText, nil
	case "json":
		return EncodeJSON, nil
	case "md":
		return EncodeMarkdown, nil
	case "html":
		return EncodeHTML, nil
	case "junit":
		return xmlEncoder(formatter.NewJUnitReportXML()), nil
	case "nunit":
		return xmlEncoder(formatter.NewNUnitReportXML()), nil
	case "xunit":
		return xmlEncoder(formatter.NewXUnitReportXML()), nil
	case "sonar":
		return xmlEncoder(formatter.NewSonarReportXML()), nil
	}
	return nil, fmt.Errorf("%w: unknown report format %q; use one of %s", ErrInvalidOptions, format, strings.Join(Formats(), ", "))
}

// EncodeText writes the report in helm-unittest's layout: a header per chart
// (and Kubernetes version), PASS/FAIL/SKIP per suite with the engine's own
// failure details, then the summary. Colours follow the terminal.
func EncodeText(w io.Writer, r Report) error {
	tw := &errWriter{w: w}
	p := printer.NewPrinter(tw, nil)
	for _, run := range r.Runs {
		if run.Error != nil && run.Chart == "" {
			p.Println(fmt.Sprintf("\n### %s %s\n", p.Danger("%s", "Error: "), run.Error), 0)
			continue
		}
		version := ""
		if run.KubeVersion != "" {
			version = " " + p.Highlight("Kubernetes %s", run.KubeVersion)
		}
		p.Println(fmt.Sprintf("\n### Chart [ %s ] %s%s\n", p.Highlight("%s", run.Chart), p.Faint("%s", run.Path), version), 0)
		for _, s := range run.Suites {
			s.Print(p, 0)
		}
		if run.Error != nil {
			p.Println(fmt.Sprintf("\n### %s %s\n", p.Danger("%s", "Error: "), run.Error), 0)
		}
	}
	c := r.Count()
	if c.Snapshots.Failed > 0 {
		p.Println(fmt.Sprintf("\nSnapshot Summary: %s in %d test suite.%s", p.Danger("%d snapshot failed", c.Snapshots.Failed),
			c.SnapshotFailedSuites, p.Faint("%s", " Check changes and use `-u` to update snapshot.")), 0)
	}
	p.Println(fmt.Sprintf(`
Charts:      %s
Test Suites: %s
Tests:       %s
Snapshot:    %s
Time:        %s
`, tally(p, c.Charts), tally(p, c.Suites), tally(p, c.Tests), tally(p, c.Snapshots), r.Duration), 0)
	if n := c.Created; n > 0 {
		p.Println(p.Warning("%d new snapshots compared as passing but were not written; run with -u to write them.", n), 0)
	}
	for _, n := range r.Notes {
		p.Println(p.Warning("note: %s", n), 0)
	}
	return tw.err
}

// tally formats counts as helm-unittest's summary does.
func tally(p *printer.Printer, t Tally) string {
	var s string
	if t.Failed > 0 {
		s = p.Danger("%d failed, ", t.Failed)
	}
	if t.Errored > 0 {
		s += fmt.Sprintf("%d errored, ", t.Errored)
	}
	if t.Skipped > 0 {
		return s + fmt.Sprintf("%d passed, %d skipped, %d total", t.Passed, t.Skipped, t.Total())
	}
	return s + fmt.Sprintf("%d passed, %d total", t.Passed, t.Total())
}

// errWriter keeps the first write error, since the engine's printer drops it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

// jsonReport is the JSON form of a report.
type jsonReport struct {
	Failed     bool      `json:"failed"`
	Counts     Counts    `json:"counts"`
	Notes      []string  `json:"notes,omitempty"`
	DurationMS int64     `json:"durationMs"`
	Runs       []jsonRun `json:"runs"`
}

type jsonRun struct {
	Chart       string      `json:"chart"`
	Path        string      `json:"path"`
	KubeVersion string      `json:"kubeVersion,omitempty"`
	Status      Status      `json:"status"`
	Error       string      `json:"error,omitempty"`
	Suites      []jsonSuite `json:"suites"`
}

type jsonSuite struct {
	Name   string     `json:"name"`
	File   string     `json:"file"`
	Status Status     `json:"status"`
	Error  string     `json:"error,omitempty"`
	Cases  []jsonCase `json:"cases"`
}

type jsonCase struct {
	Name       string `json:"name"`
	Status     Status `json:"status"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"durationMs"`
	// Failures holds the engine's text for each failed assertion.
	Failures []string `json:"failures,omitempty"`
}

// EncodeJSON writes the report as indented JSON: counts, then every case's
// verdict per suite, chart and Kubernetes version.
func EncodeJSON(w io.Writer, r Report) error {
	out := jsonReport{Failed: r.Failed(), Counts: r.Count(), Notes: r.Notes, DurationMS: r.Duration.Milliseconds(), Runs: []jsonRun{}}
	for _, run := range r.Runs {
		jr := jsonRun{Chart: run.Chart, Path: run.Path, KubeVersion: run.KubeVersion, Status: StatusPass, Error: errText(run.Error), Suites: []jsonSuite{}}
		if !run.Passed() {
			jr.Status = StatusFail
		}
		for _, s := range run.Suites {
			js := jsonSuite{Name: s.DisplayName, File: s.FilePath, Status: SuiteStatus(s), Error: errText(s.ExecError), Cases: []jsonCase{}}
			for _, c := range s.TestsResult {
				if c == nil {
					continue
				}
				js.Cases = append(js.Cases, jsonCase{Name: c.DisplayName, Status: CaseStatus(c), Error: errText(c.ExecError),
					DurationMS: c.Duration.Milliseconds(), Failures: failures(c)})
			}
			jr.Suites = append(jr.Suites, js)
		}
		out.Runs = append(out.Runs, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode unit report as JSON: %w", err)
	}
	return nil
}

// failures lists the engine's messages of a case's failed assertions.
func failures(c *results.TestJobResult) []string {
	var out []string
	for _, a := range c.AssertsResult {
		if a == nil || a.Passed || a.Skipped {
			continue
		}
		msg := fmt.Sprintf("asserts[%d] %s", a.Index, a.AssertType)
		if a.Not {
			msg += " (not)"
		}
		if len(a.FailInfo) > 0 {
			msg += ": " + strings.Join(a.FailInfo, "\n")
		}
		out = append(out, msg)
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// xmlEncoder writes the report with one of helm-unittest's XML formatters.
// With several Kubernetes versions, suite names carry the version.
func xmlEncoder(f formatter.Formatter) Encoder {
	return func(w io.Writer, r Report) error {
		var suites []*results.TestSuiteResult
		for _, run := range r.Runs {
			for _, s := range run.Suites {
				// The formatters cannot take the empty places Failfast
				// leaves for cases that did not run.
				named := *s
				named.TestsResult = slices.DeleteFunc(slices.Clone(s.TestsResult), func(c *results.TestJobResult) bool { return c == nil })
				if run.KubeVersion != "" {
					named.DisplayName = fmt.Sprintf("%s [Kubernetes %s]", s.DisplayName, run.KubeVersion)
				}
				suites = append(suites, &named)
			}
		}
		// No XML declaration, as helm-unittest writes them.
		if err := f.WriteTestOutput(suites, true, w); err != nil {
			return fmt.Errorf("write unit report as XML: %w", err)
		}
		return nil
	}
}
