package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

func generators(n int) string {
	if n == 1 {
		return "1 load generator"
	}
	return fmt.Sprintf("%d load generators", n)
}

// textGroups writes the breakdown table of gs, named by name.
func textGroups(b *strings.Builder, what string, gs []record.Group, name func(record.Group) string) {
	if len(gs) == 0 {
		return
	}
	w := len(what) + 3
	for _, g := range gs {
		w = max(w, len(name(g)))
	}
	head := fmt.Sprintf("%-*s %9s %7s %7s  %-35s  %s", w, "", "", "", "", "latency from intended send", "from actual send (vegeta)")
	fmt.Fprintf(b, "\n%s\n", strings.TrimRight(head, " "))
	fmt.Fprintf(b, "%-*s %9s %7s %7s  %8s %8s %8s %8s  %8s %8s %8s %8s %10s\n", w, "by "+what, "requests", "errors", "error%",
		"p50", "p90", "p95", "p99", "p50", "p90", "p95", "p99", "bytes sent")
	for _, g := range gs {
		fmt.Fprintf(b, "%-*s %9d %7d %7s  %8s %8s %8s %8s  %8s %8s %8s %8s %10s\n", w, name(g), g.Requests, g.Errors, pct(g.ErrorRate),
			ms(g.Intended.P50), ms(g.Intended.P90), ms(g.Intended.P95), ms(g.Intended.P99),
			ms(g.Latency.P50), ms(g.Latency.P90), ms(g.Latency.P95), ms(g.Latency.P99), humanBytes(g.BytesOut))
	}
}

// overTimeRows is the text and Markdown table over time: its header and rows,
// the ticks of Report.Periods that are not slivers.
func overTimeRows(r *Report) (header []string, rows [][]string) {
	hasTarget, hasE2E := false, false
	for _, t := range r.Periods {
		hasTarget = hasTarget || t.Target > 0
		hasE2E = hasE2E || t.E2E.Count > 0
	}
	header = []string{"from s", "to s", "sent/s", "ok/s"}
	if hasTarget {
		header = append(header, "target/s")
	}
	header = append(header, "errors/s", "p50", "p95", "p99")
	if hasE2E {
		header = append(header, "e2e p50", "e2e p95")
	}
	for _, t := range r.Periods {
		if t.Sliver() {
			continue
		}
		row := []string{fmt.Sprintf("%.1f", t.From), fmt.Sprintf("%.1f", t.To), fmt.Sprintf("%.1f", t.Sent), fmt.Sprintf("%.1f", t.Throughput)}
		if hasTarget {
			row = append(row, fmt.Sprintf("%.1f", t.Target))
		}
		row = append(row, fmt.Sprintf("%.1f", t.Errors), dash(t.Intended, t.Intended.P50), dash(t.Intended, t.Intended.P95), dash(t.Intended, t.Intended.P99))
		if hasE2E {
			row = append(row, dash(t.E2E, t.E2E.P50), dash(t.E2E, t.E2E.P95))
		}
		rows = append(rows, row)
	}
	return header, rows
}

// dash renders p of d, or "-" when d holds nothing.
func dash(d record.Distribution, p time.Duration) string {
	if d.Count == 0 {
		return "-"
	}
	return ms(p)
}

func overTimeNote(r *Report) string {
	per, unit := "per second", "second"
	if len(r.Periods) > 0 && r.Periods[0].Length > 1 {
		per, unit = fmt.Sprintf("in periods of %g s", r.Periods[0].Length), "period"
	}
	return fmt.Sprintf("Over time, %s, by intended send time; latency from the intended send. Rates count the part of each %s inside the attack; %ss less than 20%% inside are left out.", per, unit, unit)
}

func textOverTime(b *strings.Builder, r *Report) {
	header, rows := overTimeRows(r)
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s\n", overTimeNote(r))
	for i, h := range header {
		fmt.Fprintf(b, "%9s", h)
		if i == len(header)-1 {
			b.WriteString("\n")
		}
	}
	for _, row := range rows {
		for _, c := range row {
			fmt.Fprintf(b, "%9s", c)
		}
		b.WriteString("\n")
	}
}

// mdGroups writes the breakdown table of gs as Markdown.
func mdGroups(b *strings.Builder, what string, gs []record.Group, name func(record.Group) string) {
	if len(gs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n| %s | Requests | Errors | Error %% | p50 | p90 | p95 | p99 | p50 actual | p90 actual | p95 actual | p99 actual | Bytes sent |\n", what)
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, g := range gs {
		fmt.Fprintf(b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(name(g)), g.Requests, g.Errors, pct(g.ErrorRate),
			ms(g.Intended.P50), ms(g.Intended.P90), ms(g.Intended.P95), ms(g.Intended.P99),
			ms(g.Latency.P50), ms(g.Latency.P90), ms(g.Latency.P95), ms(g.Latency.P99), humanBytes(g.BytesOut))
	}
	if what == "Encoding" {
		b.WriteString("\nLatency percentiles from the intended send time; “actual” from the actual send (vegeta's).\n")
	}
}

func mdOverTime(b *strings.Builder, r *Report) {
	header, rows := overTimeRows(r)
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n<details><summary>Over time</summary>\n\n%s\n\n| %s |\n|%s\n", overTimeNote(r), strings.Join(header, " | "), strings.Repeat("---:|", len(header)))
	for _, row := range rows {
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
	b.WriteString("\n</details>\n")
}
