// Package report renders a load attack's results as text, JSON, Markdown (fit for a
// GitHub step summary) or a self-contained HTML page with inline SVG plots. Each
// format is an Encoder, in the manner of vegeta's reporters.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
)

// Config is what was asked of the attack, for the report's header.
type Config struct {
	Target   string        `json:"target"`
	Pacer    string        `json:"pacer"`
	Rate     float64       `json:"rate"`
	Duration time.Duration `json:"duration"`
	Seed     uint64        `json:"seed"`
	Workers  int           `json:"workers,omitempty"`
	// Date is when the attack began. Zero: New takes the Recorder's start.
	Date time.Time `json:"date"`
	// Command is the command line that ran the attack, e.g.
	// CommandLine(os.Args). Empty: not shown.
	Command string `json:"command,omitempty"`
	// Versions of shakedown, Go and vegeta. Zero: New reads this binary's
	// (ReadVersions).
	Versions Versions `json:"versions"`
}

// Point is one latency percentile.
type Point struct {
	Percentile float64       `json:"percentile"`
	Intended   time.Duration `json:"intended"`
	Latency    time.Duration `json:"latency"`
	E2E        time.Duration `json:"e2e,omitempty"`
}

// Report is everything an encoder shows.
type Report struct {
	Title      string          `json:"title"`
	Config     Config          `json:"config"`
	Summary    record.Summary  `json:"summary"`
	Percentile []Point         `json:"percentiles"`
	Timeline   []record.Second `json:"timeline"`
	// Kinds and Encodings break the results down by request kind and by
	// encoding; empty when the Recorder had no record.Options.Classify.
	Kinds     []record.Group `json:"kinds,omitempty"`
	Encodings []record.Group `json:"encodings,omitempty"`
	// OverTime is the attack second by second, as rates per second of the part
	// of each second inside the attack; Periods is the same in at most 20
	// periods of whole seconds, for the text table.
	OverTime []Tick `json:"over_time"`
	Periods  []Tick `json:"periods"`
	// Histogram is the whole run's latencies in log-scale buckets.
	Histogram  []record.Bucket    `json:"histogram"`
	Thresholds []threshold.Result `json:"thresholds"`
	// Passed is true when every threshold passed.
	Passed bool `json:"passed"`
	// Stopped says why the attack ended early, if it did (e.g. interrupted).
	Stopped string `json:"stopped,omitempty"`
}

// Percentiles plotted and tabled.
func percentiles() []float64 {
	return []float64{50, 75, 90, 95, 99, 99.9, 99.99, 100}
}

// New builds a Report from a finished Recorder, checking thresholds against it.
func New(title string, cfg Config, rec *record.Recorder, ts []threshold.Threshold) *Report {
	r := &Report{Title: title, Config: cfg, Summary: rec.Summary(), Timeline: rec.Timeline(), Histogram: rec.Histogram(),
		Kinds: rec.Breakdown(record.ByKind), Encodings: rec.Breakdown(record.ByEncoding)}
	if r.Config.Date.IsZero() {
		r.Config.Date = r.Summary.Start
	}
	r.Config.Date = r.Config.Date.UTC()
	if r.Config.Versions == (Versions{}) {
		r.Config.Versions = ReadVersions()
	}
	start, window := r.Summary.Start, r.Summary.Window
	r.OverTime = ticks(r.Timeline, time.Second, start, window)
	n := periodLength(r.Timeline)
	r.Periods = ticks(rec.TimelineBy(n), time.Duration(n)*time.Second, start, window)
	r.Thresholds, r.Passed = threshold.CheckAll(ts, rec)
	for _, p := range percentiles() {
		pt := Point{Percentile: p}
		pt.Intended, _ = rec.Percentile(record.Intended, p)
		pt.Latency, _ = rec.Percentile(record.Latency, p)
		pt.E2E, _ = rec.Percentile(record.E2E, p)
		r.Percentile = append(r.Percentile, pt)
	}
	return r
}

// Encoder writes a Report in one format.
type Encoder func(w io.Writer, r *Report) error

// Formats lists the encoders by name.
func Formats() []string { return []string{"text", "json", "md", "html"} }

// ByName returns the encoder called name (text, json, md or html) and its file
// extension.
func ByName(name string) (Encoder, string, error) {
	switch name {
	case "text", "txt":
		return Text, "txt", nil
	case "json":
		return JSON, "json", nil
	case "md", "markdown":
		return Markdown, "md", nil
	case "html":
		return HTML, "html", nil
	}
	return nil, "", fmt.Errorf("report format %q not known: use one of %s", name, strings.Join(Formats(), ", "))
}

// JSON writes the Report as indented JSON.
func JSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func pct(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v*100), "0"), ".") + "%"
}

func verdict(r *Report) string {
	switch {
	case len(r.Thresholds) == 0:
		return "no thresholds"
	case r.Passed:
		return "all thresholds passed"
	}
	failed := 0
	for _, t := range r.Thresholds {
		if !t.Pass {
			failed++
		}
	}
	return fmt.Sprintf("%d of %d thresholds FAILED", failed, len(r.Thresholds))
}

// Text writes a plain-text summary.
func Text(w io.Writer, r *Report) error {
	s := r.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", r.Title)
	fmt.Fprintf(&b, "date      %s  duration %s\n", date(r.Config), r.Config.Duration)
	if r.Config.Command != "" {
		fmt.Fprintf(&b, "command   %s\n", r.Config.Command)
	}
	fmt.Fprintf(&b, "versions  %s\n", r.Config.Versions)
	fmt.Fprintf(&b, "target    %s  pacer %s  seed %d\n", r.Config.Target, r.Config.Pacer, r.Config.Seed)
	if r.Stopped != "" {
		fmt.Fprintf(&b, "stopped   %s (partial results)\n", r.Stopped)
	}
	fmt.Fprintf(&b, "requests  %d sent of %d scheduled in %s (shortfall %d, late %d), %s\n",
		s.Requests, s.Requested, s.Window.Round(time.Millisecond), s.Shortfall, s.Late, generators(s.Workers))
	fmt.Fprintf(&b, "rate      %.1f/s achieved of %.1f/s requested (%s); throughput %.1f/s\n",
		s.Rate, s.RequestedRate, pct(safeDiv(s.Rate, s.RequestedRate)), s.Throughput)
	fmt.Fprintf(&b, "errors    %d (%s)  codes %s\n", s.Errors, pct(s.ErrorRate), codes(s.Codes))
	for _, e := range s.TopErrors {
		fmt.Fprintf(&b, "          %6d  %s\n", e.Count, e.Error)
	}
	fmt.Fprintf(&b, "bytes     %d out, %d in\n", s.BytesOut, s.BytesIn)
	fmt.Fprintf(&b, "\n%-28s %9s %9s %9s %9s %9s %9s\n", "latency", "p50", "p90", "p95", "p99", "p99.9", "max")
	for _, row := range []struct {
		name string
		d    record.Distribution
	}{{"from intended send", s.Intended}, {"from actual send (vegeta)", s.Latency}, {"end-to-end (ClickHouse)", s.E2E}} {
		if row.d.Count == 0 {
			continue
		}
		fmt.Fprintf(&b, "%-28s %9s %9s %9s %9s %9s %9s\n", row.name, ms(row.d.P50), ms(row.d.P90), ms(row.d.P95), ms(row.d.P99), ms(row.d.P999), ms(row.d.Max))
	}
	if s.E2E.Count > 0 || s.E2ELost > 0 {
		fmt.Fprintf(&b, "e2e       %d sampled events found, %d lost\n", s.E2E.Count, s.E2ELost)
	}
	if len(r.Thresholds) > 0 {
		fmt.Fprintf(&b, "\nthresholds: %s\n", verdict(r))
		for _, t := range r.Thresholds {
			mark := "✓"
			if !t.Pass {
				mark = "✗"
			}
			fmt.Fprintf(&b, "  %s %-24s actual %s, limit %s %s\n", mark, t.Rule, orNote(t), t.Threshold.Op, t.Want)
		}
	}
	textGroups(&b, "kind", r.Kinds, func(g record.Group) string { return g.Kind })
	textGroups(&b, "encoding", r.Encodings, func(g record.Group) string { return g.Encoding })
	textOverTime(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

func orNote(t threshold.Result) string {
	if t.Note != "" {
		return t.Note
	}
	return t.Actual
}

func safeDiv(a, b float64) float64 {
	if b == 0 || math.IsNaN(b) {
		return 0
	}
	return a / b
}

func codes(m map[uint16]uint64) string {
	var parts []string
	for c := uint16(0); c < 600; c++ {
		if n, ok := m[c]; ok {
			parts = append(parts, fmt.Sprintf("%d×%d", c, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// Markdown writes tables that render in a GitHub step summary.
func Markdown(w io.Writer, r *Report) error {
	s := r.Summary
	var b strings.Builder
	mark := "✅"
	if !r.Passed {
		mark = "❌"
	}
	fmt.Fprintf(&b, "## %s %s\n\n", mark, mdEscape(r.Title))
	fmt.Fprintf(&b, "Target `%s`, pacer `%s`, seed `%d` — %s.\n\n", r.Config.Target, r.Config.Pacer, r.Config.Seed, verdict(r))
	fmt.Fprintf(&b, "Run at %s (UTC) for %s on %s; %s.\n\n", date(r.Config), r.Config.Duration, generators(s.Workers), mdEscape(r.Config.Versions.String()))
	if r.Config.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", mdCode(r.Config.Command))
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "> **Stopped early:** %s — partial results.\n\n", mdEscape(r.Stopped))
	}
	if len(r.Thresholds) > 0 {
		b.WriteString("| | Threshold | Actual | Limit |\n|---|---|---|---|\n")
		for _, t := range r.Thresholds {
			m := "✓"
			if !t.Pass {
				m = "✗"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | `%s %s` |\n", m, mdCode(t.Rule), mdEscape(orNote(t)), mdCode(t.Threshold.Op), mdCode(t.Want))
		}
		b.WriteString("\n")
	}
	b.WriteString("| Requests | Scheduled | Shortfall | Late | Rate | Requested rate | Errors | Workers |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %.1f/s | %.1f/s | %d (%s) | %d |\n\n", s.Requests, s.Requested, s.Shortfall, s.Late, s.Rate, s.RequestedRate, s.Errors, pct(s.ErrorRate), s.Workers)
	b.WriteString("| Latency | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		d    record.Distribution
	}{{"from intended send", s.Intended}, {"from actual send (vegeta)", s.Latency}, {"end-to-end to ClickHouse", s.E2E}} {
		if row.d.Count == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", row.name, ms(row.d.P50), ms(row.d.P90), ms(row.d.P95), ms(row.d.P99), ms(row.d.P999), ms(row.d.Max))
	}
	fmt.Fprintf(&b, "\nStatus codes: %s.", codes(s.Codes))
	if s.E2E.Count > 0 || s.E2ELost > 0 {
		fmt.Fprintf(&b, " End-to-end: %d sampled events found, %d lost.", s.E2E.Count, s.E2ELost)
	}
	b.WriteString("\n")
	if len(s.TopErrors) > 0 {
		b.WriteString("\n| Count | Error |\n|---:|---|\n")
		for _, e := range s.TopErrors {
			fmt.Fprintf(&b, "| %d | %s |\n", e.Count, mdEscape(e.Error))
		}
	}
	mdGroups(&b, "Kind", r.Kinds, func(g record.Group) string { return g.Kind })
	mdGroups(&b, "Encoding", r.Encodings, func(g record.Group) string { return g.Encoding })
	mdOverTime(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCode makes s safe inside a code span in a table cell.
func mdCode(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
