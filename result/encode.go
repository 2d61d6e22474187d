package result

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shakedown-dev/shakedown/internal/junit"
)

// Formats are the encodings Write knows, with their file extensions.
var Formats = map[string]string{"text": "txt", "json": "json", "junit": "xml", "md": "md", "html": "html"}

// FormatNames lists Formats' names in order.
func FormatNames() []string {
	names := make([]string, 0, len(Formats))
	for n := range Formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Write encodes r in format (see Formats).
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "text":
		return r.WriteText(w)
	case "json":
		return r.WriteJSON(w)
	case "junit":
		return r.WriteJUnit(w)
	case "md":
		return r.WriteMarkdown(w)
	case "html":
		return r.WriteHTML(w)
	}
	return fmt.Errorf("report format %q: want one of %s", format, strings.Join(FormatNames(), ", "))
}

// verdictLine is the report's first line: the verdict, and the first failing
// stage and check.
func (r *Report) verdictLine() string {
	switch {
	case r.Verdict == Pass:
		return fmt.Sprintf("PASS: %s — %s in %s held", r.Title, plural(len(r.Checks), "check"), plural(len(r.Stages), "stage"))
	case r.FirstFailure != nil:
		f := r.FirstFailure
		return fmt.Sprintf("FAIL: %s — stage %s failed: %s: %s", r.Title, f.Stage, f.Name, f.Summary)
	}
	return fmt.Sprintf("FAIL: %s — nothing was checked (%s, all skipped)", r.Title, plural(len(r.Checks), "check"))
}

func mark(s Status) string {
	switch s {
	case Pass:
		return "ok"
	case Skip:
		return "skip"
	case Fail:
		return "FAIL"
	}
	return "ERROR"
}

func round(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// WriteText writes the report for a terminal: the verdict first, then every
// stage with its checks, evidence under failures.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString(r.verdictLine() + "\n")
	if f := r.FirstFailure; f != nil {
		for _, e := range f.Evidence {
			fmt.Fprintf(&b, "  evidence: %s\n", e)
		}
	}
	fmt.Fprintf(&b, "target %s%s\n", r.Target, r.when())
	for _, st := range r.Stages {
		fmt.Fprintf(&b, "\n%s  %s  %s, %d failed, %s\n", strings.ToUpper(st.Name), mark(st.Status), plural(st.Checks, "check"), st.Failed, round(st.Duration))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, c := range r.Checks {
			if c.Stage != st.Name {
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", mark(c.Status), c.Name, c.Summary, round(c.Duration))
			if c.Status.Failed() {
				for _, m := range c.Measurements {
					if !m.Pass {
						fmt.Fprintf(tw, "      \t%s\t\t\n", m)
					}
				}
				for _, e := range c.Evidence {
					fmt.Fprintf(tw, "      \t%s\t\t\n", e)
				}
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write the text report: %w", err)
	}
	return nil
}

// WriteMarkdown writes GitHub-flavoured Markdown for a step summary: the
// verdict as the heading, the first failure with its evidence, a table of
// stages, then every check.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	icon := map[Status]string{Pass: "✅", Skip: "⏭️", Fail: "❌", Error: "⚠️"}
	fmt.Fprintf(&b, "## %s %s\n\n", icon[r.Verdict], mdEscape(r.verdictLine()))
	if f := r.FirstFailure; f != nil && len(f.Evidence) > 0 {
		// A fence longer than any run of backticks in the evidence, which may
		// come from the target's replies, so it cannot close the block.
		body := strings.Join(f.Evidence, "\n")
		fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
		fmt.Fprintf(&b, "Evidence:\n\n%s\n%s\n%s\n\n", fence, body, fence)
	}
	fmt.Fprintf(&b, "Target %s%s.\n\n", mdEscape(r.Target), r.when())
	b.WriteString("| stage | status | checks | failed | time |\n|---|---|---:|---:|---:|\n")
	for _, st := range r.Stages {
		fmt.Fprintf(&b, "| %s | %s %s | %d | %d | %s |\n", st.Name, icon[st.Status], st.Status, st.Checks, st.Failed, round(st.Duration))
	}
	b.WriteString("\n| stage | check | status | summary | measurements |\n|---|---|---|---|---|\n")
	for _, c := range r.Checks {
		var ms []string
		for _, m := range c.Measurements {
			ms = append(ms, mdEscape(m.String()))
		}
		fmt.Fprintf(&b, "| %s | %s | %s %s | %s | %s |\n", c.Stage, mdEscape(c.Name), icon[c.Status], c.Status, mdEscape(c.Summary), strings.Join(ms, "<br>"))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write the Markdown report: %w", err)
	}
	return nil
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`).Replace(s)
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// WriteJUnit writes one test suite per stage, one test case per check.
func (r *Report) WriteJUnit(w io.Writer) error {
	var suites junit.Suites
	suites.Name = r.Title
	for _, st := range r.Stages {
		s := junit.Suite{Name: st.Name}
		for _, c := range r.Checks {
			if c.Stage != st.Name {
				continue
			}
			jc := junit.Case{Name: c.Name, Classname: "shakedown." + c.Layer, Time: junit.Seconds(c.Duration)}
			var out []string
			for _, m := range c.Measurements {
				out = append(out, m.String())
			}
			jc.SystemOut = strings.Join(out, "\n")
			p := &junit.Problem{Message: c.Summary, Text: strings.Join(c.Evidence, "\n")}
			switch c.Status {
			case Fail:
				jc.Failure = p
			case Error:
				jc.Error = p
			case Skip:
				jc.Skipped = p
			}
			s.Add(jc)
		}
		suites.Add(s)
	}
	return junit.Write(w, suites)
}

// plural is "1 check", "2 checks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// when is ", started T, took D", without what the report does not know.
func (r *Report) when() string {
	s := ""
	if !r.Started.IsZero() {
		s += ", started " + r.Started.UTC().Format(time.RFC3339)
	}
	if r.Duration > 0 {
		s += ", took " + round(r.Duration)
	}
	return s
}
