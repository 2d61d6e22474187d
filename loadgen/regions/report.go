package regions

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Format names a report encoding.
type Format string

// The report formats.
const (
	Text     Format = "text"
	JSON     Format = "json"
	Markdown Format = "md"
	HTML     Format = "html"
)

// Formats lists every Format.
func Formats() []Format { return []Format{Text, JSON, Markdown, HTML} }

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("report format %q: use one of text, json, md, html", s)
}

// Ext is the file extension of format f.
func (f Format) Ext() string {
	if f == Text {
		return "txt"
	}
	return string(f)
}

// Write encodes r to w in format f.
func Write(w io.Writer, f Format, r Report) error {
	switch f {
	case Text:
		return WriteText(w, r)
	case JSON:
		return WriteJSON(w, r)
	case Markdown:
		return WriteMarkdown(w, r)
	case HTML:
		return WriteHTML(w, r)
	}
	return fmt.Errorf("report format %q: use one of text, json, md, html", f)
}

// WriteJSON writes r as indented JSON; durations are in nanoseconds, as in vegeta's JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode region report as JSON: %w", err)
	}
	return nil
}

// Verdicts returns the verdict of every comparison, grouped by pair, in report order.
func (r Report) Verdicts() []string {
	out := make([]string, len(r.Comparisons))
	for i, c := range r.Comparisons {
		out[i] = c.Verdict
	}
	return out
}

func (r Report) header() string {
	state := ""
	if r.Interrupted {
		state = " — INTERRUPTED, partial results"
	}
	return fmt.Sprintf("%d of %d rounds at %g/s per target (%d warm-up) in %s; metric %s; %g%% percentile-bootstrap CIs (%d resamples, seed %d)%s",
		r.Sent, r.Rounds, r.Rate, r.Warmup, r.Elapsed.Round(time.Millisecond), r.Metric, r.Level*100, r.Resamples, r.Seed, state)
}

// WriteText writes r as a plain-text table followed by the verdicts.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Region benchmark: %s\n\n", r.header())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "target\tn\terrors\t")
	for _, q := range r.Quantiles {
		fmt.Fprintf(tw, "%s (ms)\t", QuantileName(q))
	}
	fmt.Fprintln(tw, "mean (ms)\t")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%d\t%s\t", t.Name, t.Samples, errorsCell(t))
		for _, q := range t.Quantiles {
			fmt.Fprintf(tw, "%s [%s–%s]\t", msNum(q.Value), msNum(q.Lo), msNum(q.Hi))
		}
		for range len(r.Quantiles) - len(t.Quantiles) {
			fmt.Fprint(tw, "-\t")
		}
		fmt.Fprintf(tw, "%s\t\n", msNum(t.Mean))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\nVerdicts:\n")
	for _, v := range r.Verdicts() {
		fmt.Fprintf(&b, "  - %s\n", v)
	}
	if len(r.Comparisons) > 0 {
		fmt.Fprintf(&b, "\nDifferences A − B (ms) with their %g%% CIs:\n", r.Level*100)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  pair\tquantile\tdifference\tpaired CI\tindependent CI\t")
		for _, c := range r.Comparisons {
			paired, ind := "-", ciText(c.Comparison)
			if c.Independent != nil {
				paired, ind = ciText(c.Comparison), ciText(*c.Independent)
			}
			fmt.Fprintf(tw, "  %s − %s\t%s\t%s\t%s\t%s\t\n", c.A, c.B, QuantileName(c.Q), signedNum(c.Diff.Value), paired, ind)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	b.WriteString("\nChecks:\n")
	for _, line := range checkLines(r) {
		fmt.Fprintf(&b, "  %s %s\n", map[bool]string{true: "ok  ", false: "FAIL"}[line.pass], line.text)
	}
	for _, t := range r.Targets {
		for _, e := range t.TopErrors {
			fmt.Fprintf(&b, "  ! %s: %d× %s\n", t.Name, e.Count, e.Error)
		}
	}
	fmt.Fprintf(&b, "Result: %s\n", resultText(r))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ciText is a comparison's difference interval, e.g. "[−60.9, −59.3]".
func ciText(c Comparison) string {
	return "[" + signedNum(c.Diff.Lo) + ", " + signedNum(c.Diff.Hi) + "]" + map[bool]string{true: " ≠0", false: ""}[c.Significant]
}

func signedNum(d time.Duration) string {
	if d < 0 {
		return "−" + msNum(-d)
	}
	return "+" + msNum(d)
}

// checkLine is one line of the Checks section.
type checkLine struct {
	pass bool
	text string
}

// checkLines lists every check of r: the error rule per target, the thresholds and
// the residency of each region.
func checkLines(r Report) []checkLine {
	var out []checkLine
	for _, c := range r.ErrorChecks {
		out = append(out, checkLine{c.Pass, "errors " + c.String()})
	}
	for _, t := range r.Thresholds {
		text := "threshold " + t.Rule
		if t.Actual != "" {
			text += ": " + t.Actual
		}
		if t.Note != "" {
			text += " (" + t.Note + ")"
		}
		out = append(out, checkLine{t.Pass, text})
	}
	if r.Residency != nil {
		for _, g := range r.Residency.Regions {
			text := fmt.Sprintf("residency %s: %d events acknowledged", g.Name, g.Acked)
			if g.Checked {
				text += fmt.Sprintf(", %d in %s's store", g.Stored, g.Name)
			} else {
				text += " (no store of its own to check)"
			}
			if len(g.Elsewhere) == 0 {
				text += ", none elsewhere"
			}
			out = append(out, checkLine{g.Passed(), text})
		}
		for _, v := range r.Residency.Violations() {
			out = append(out, checkLine{false, "residency: " + v})
		}
	}
	return out
}

func resultText(r Report) string {
	state := ""
	if r.Interrupted {
		state = " (interrupted: on what was measured)"
	}
	if f := r.Failures(); len(f) > 0 {
		return fmt.Sprintf("FAILED, %d check(s) failed%s", len(f), state)
	}
	return "passed" + state
}

func errorsCell(t TargetReport) string {
	if t.Requests == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%.1f%%)", t.Errors, t.ErrorRate*100)
}

// WriteMarkdown writes r as Markdown (a table and the verdicts), e.g. for a CI summary.
func WriteMarkdown(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Region benchmark\n\n%s\n\n", r.header())
	b.WriteString("| target | n | errors |")
	for _, q := range r.Quantiles {
		fmt.Fprintf(&b, " %s ms [CI] |", QuantileName(q))
	}
	b.WriteString(" mean ms |\n|---|---:|---:|")
	b.WriteString(strings.Repeat("---:|", len(r.Quantiles)))
	b.WriteString("---:|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %d | %s |", mdEscape(t.Name), t.Samples, errorsCell(t))
		for _, q := range t.Quantiles {
			fmt.Fprintf(&b, " %s [%s–%s] |", msNum(q.Value), msNum(q.Lo), msNum(q.Hi))
		}
		b.WriteString(strings.Repeat(" – |", len(r.Quantiles)-len(t.Quantiles)))
		fmt.Fprintf(&b, " %s |\n", msNum(t.Mean))
	}
	b.WriteString("\n### Verdicts\n\n")
	for _, c := range r.Comparisons {
		// Neutral marks: a significant difference is a finding, not a failure.
		mark := "≈"
		if c.Significant {
			mark = "≠"
		}
		fmt.Fprintf(&b, "- %s %s\n", mark, mdEscape(c.Verdict))
	}
	if len(r.Comparisons) > 0 {
		fmt.Fprintf(&b, "\n| pair | quantile | difference ms | paired %g%% CI | independent %g%% CI |\n|---|---|---:|---:|---:|\n", r.Level*100, r.Level*100)
		for _, c := range r.Comparisons {
			paired, ind := "–", ciText(c.Comparison)
			if c.Independent != nil {
				paired, ind = ciText(c.Comparison), ciText(*c.Independent)
			}
			fmt.Fprintf(&b, "| %s − %s | %s | %s | %s | %s |\n", mdEscape(c.A), mdEscape(c.B), QuantileName(c.Q), signedNum(c.Diff.Value), paired, ind)
		}
	}
	fmt.Fprintf(&b, "\n### Checks: %s\n\n", resultText(r))
	for _, line := range checkLines(r) {
		fmt.Fprintf(&b, "- %s %s\n", map[bool]string{true: "✅", false: "❌"}[line.pass], mdEscape(line.text))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n> %s\n", mdEscape(n))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`).Replace(s)
}

// WriteHTML writes r as one self-contained HTML page — tables, verdicts and the
// percentile plot (inline SVG) — that renders offline.
func WriteHTML(w io.Writer, r Report) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Region benchmark</title>
<style>
body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
.sig{color:#222}.ns{color:#666}
.pass{color:#222}.fail{color:#b00;font-weight:bold}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
</style></head><body>
<h1>Region benchmark</h1>
`)
	fmt.Fprintf(&b, "<p>%s</p>\n<table><tr><th>target</th><th>URL</th><th>n</th><th>errors</th>", html.EscapeString(r.header()))
	for _, q := range r.Quantiles {
		fmt.Fprintf(&b, "<th>%s ms [%g%% CI]</th>", QuantileName(q), r.Level*100)
	}
	b.WriteString("<th>mean ms</th></tr>\n")
	for i, t := range r.Targets {
		fmt.Fprintf(&b, `<tr><td><span class="swatch" style="background:%s"></span>%s</td><td>%s</td><td>%d</td><td>%s</td>`,
			color(i), html.EscapeString(t.Name), html.EscapeString(t.URL), t.Samples, errorsCell(t))
		for _, q := range t.Quantiles {
			fmt.Fprintf(&b, "<td>%s [%s–%s]</td>", msNum(q.Value), msNum(q.Lo), msNum(q.Hi))
		}
		b.WriteString(strings.Repeat("<td>–</td>", len(r.Quantiles)-len(t.Quantiles)))
		fmt.Fprintf(&b, "<td>%s</td></tr>\n", msNum(t.Mean))
	}
	b.WriteString("</table>\n<h2>Verdicts</h2>\n<ul>\n")
	for _, c := range r.Comparisons {
		class := "ns"
		if c.Significant {
			class = "sig"
		}
		fmt.Fprintf(&b, "<li class=\"%s\">%s</li>\n", class, html.EscapeString(c.Verdict))
	}
	b.WriteString("</ul>\n")
	if len(r.Comparisons) > 0 {
		fmt.Fprintf(&b, "<table><tr><th>pair</th><th>quantile</th><th>difference ms</th><th>paired %g%% CI</th><th>independent %g%% CI</th></tr>\n", r.Level*100, r.Level*100)
		for _, c := range r.Comparisons {
			paired, ind := "–", ciText(c.Comparison)
			if c.Independent != nil {
				paired, ind = ciText(c.Comparison), ciText(*c.Independent)
			}
			fmt.Fprintf(&b, "<tr><td>%s − %s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
				html.EscapeString(c.A), html.EscapeString(c.B), QuantileName(c.Q), signedNum(c.Diff.Value), paired, ind)
		}
		b.WriteString("</table>\n")
	}
	fmt.Fprintf(&b, "<h2>Checks: %s</h2>\n<ul>\n", html.EscapeString(resultText(r)))
	for _, line := range checkLines(r) {
		class, mark := "pass", "ok"
		if !line.pass {
			class, mark = "fail", "FAIL"
		}
		fmt.Fprintf(&b, "<li class=\"%s\">%s: %s</li>\n", class, mark, html.EscapeString(line.text))
	}
	b.WriteString("</ul>\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "<p><em>%s</em></p>\n", html.EscapeString(n))
	}
	if errs := errorRows(r); errs != "" {
		b.WriteString("<h2>Errors</h2>\n<ul>\n" + errs + "</ul>\n")
	}
	b.WriteString("<h2>Latency by percentile</h2>\n")
	if err := WriteSVG(&b, r); err != nil {
		return err
	}
	if len(r.Series) > 0 {
		b.WriteString("<h2>Latency over the run</h2>\n")
		if err := WriteSeriesSVG(&b, r); err != nil {
			return err
		}
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func errorRows(r Report) string {
	var b strings.Builder
	for _, t := range r.Targets {
		for _, e := range t.TopErrors {
			fmt.Fprintf(&b, "<li>%s: %d× %s</li>\n", html.EscapeString(t.Name), e.Count, html.EscapeString(e.Error))
		}
	}
	return b.String()
}
