package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/record"
)

// figure is one chart of the HTML page with its caption, or a note in its place
// when there is nothing to plot.
type figure struct {
	ID, Title string
	SVG       template.HTML
	Caption   string
	Empty     string
}

// HTML writes a self-contained page: run metadata, thresholds, the breakdown by
// kind and encoding, inline SVG charts over time (throughput, status codes,
// errors, bytes, latency, end-to-end latency), the latency histogram and
// percentiles, and the text summary. No scripts, no external resources: it
// renders offline, e.g. as a CI artifact.
func HTML(w io.Writer, r *Report) error {
	var txt strings.Builder
	if err := Text(&txt, r); err != nil {
		return err
	}
	data := struct {
		R       *Report
		Text    string
		Verdict string
		Date    string
		Figures []figure
	}{R: r, Text: txt.String(), Verdict: verdict(r), Date: date(r.Config), Figures: figures(r)}
	tpl, err := template.New("report").Funcs(template.FuncMap{"ms": ms, "pct": pct, "bytes": humanBytes, "groups": newGroupTable}).Parse(page)
	if err != nil {
		return fmt.Errorf("HTML report template: %w", err)
	}
	if err := tpl.Execute(w, data); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.R.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1000px;color:#222}
h1{font-size:1.4em} pre{background:#f6f8fa;padding:1em;overflow:auto}
.pass{color:#1a7f37}.fail{color:#cf222e} table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:right} th{background:#f6f8fa}
td.l,th.l{text-align:left} code{font-size:12px;word-break:break-all}
svg{background:#fff;border:1px solid #ddd} figure{margin:1em 0 2em} figcaption{color:#555;max-width:900px}
</style></head><body>
<h1 class="{{if .R.Passed}}pass{{else}}fail{{end}}">{{.R.Title}} — {{.Verdict}}</h1>
<table class="meta">
<tr><th class="l">Date (UTC)</th><td class="l">{{.Date}}</td></tr>
{{if .R.Config.Command}}<tr><th class="l">Command</th><td class="l"><code>{{.R.Config.Command}}</code></td></tr>{{end}}
<tr><th class="l">Target</th><td class="l">{{.R.Config.Target}}</td></tr>
<tr><th class="l">Pacer</th><td class="l">{{.R.Config.Pacer}}</td></tr>
<tr><th class="l">Duration</th><td class="l">{{.R.Config.Duration}}</td></tr>
<tr><th class="l">Seed</th><td class="l">{{.R.Config.Seed}}</td></tr>
<tr><th class="l">Load generators</th><td class="l">{{.R.Summary.Workers}}</td></tr>
<tr><th class="l">Versions</th><td class="l">{{.R.Config.Versions}}</td></tr>
</table>
{{if .R.Stopped}}<p><b>Stopped early:</b> {{.R.Stopped}} (partial results)</p>{{end}}
{{if .R.Thresholds}}<table><tr><th></th><th>Threshold</th><th>Actual</th><th>Limit</th></tr>
{{range .R.Thresholds}}<tr class="{{if .Pass}}pass{{else}}fail{{end}}"><td>{{if .Pass}}✓{{else}}✗{{end}}</td><td>{{.Rule}}</td><td>{{if .Note}}{{.Note}}{{else}}{{.Actual}}{{end}}</td><td>{{.Threshold.Op}} {{.Want}}</td></tr>
{{end}}</table>{{end}}
{{define "groups"}}<table><tr><th class="l">{{.Name}}</th><th>Requests</th><th>Errors</th><th>Error %</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p50 actual</th><th>p90 actual</th><th>p95 actual</th><th>p99 actual</th><th>Bytes sent</th></tr>
{{range .Groups}}<tr><td class="l">{{if $.ByKind}}{{.Kind}}{{else}}{{.Encoding}}{{end}}</td><td>{{.Requests}}</td><td>{{.Errors}}</td><td>{{pct .ErrorRate}}</td><td>{{ms .Intended.P50}}</td><td>{{ms .Intended.P90}}</td><td>{{ms .Intended.P95}}</td><td>{{ms .Intended.P99}}</td><td>{{ms .Latency.P50}}</td><td>{{ms .Latency.P90}}</td><td>{{ms .Latency.P95}}</td><td>{{ms .Latency.P99}}</td><td>{{bytes .BytesOut}}</td></tr>
{{end}}</table>{{end}}
{{if or .R.Kinds .R.Encodings}}<h2>By request kind and encoding</h2>
<p>Latency percentiles from the intended send time, then (“actual”) from the actual send, as vegeta measures it.</p>
{{if .R.Kinds}}{{template "groups" (groups "Kind" true .R.Kinds)}}{{end}}
{{if .R.Encodings}}{{template "groups" (groups "Encoding" false .R.Encodings)}}{{end}}{{end}}
{{range .Figures}}<h2 id="{{.ID}}">{{.Title}}</h2>
{{if .Empty}}<p>{{.Empty}}</p>{{else}}<figure>{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>{{end}}
{{end}}<h2>Summary</h2>
<pre>{{.Text}}</pre>
</body></html>
`

// groupTable is what the "groups" template shows.
type groupTable struct {
	Name   string
	ByKind bool
	Groups []record.Group
}

func newGroupTable(name string, byKind bool, gs []record.Group) groupTable {
	return groupTable{Name: name, ByKind: byKind, Groups: gs}
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// date renders the run's date in UTC, RFC 3339.
func date(c Config) string {
	if c.Date.IsZero() {
		return "unknown"
	}
	return c.Date.UTC().Format(time.RFC3339)
}

// humanBytes renders n bytes with a decimal unit: 1.5 MB.
func humanBytes(n uint64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		v /= 1000
		if v < 1000 {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%.1f PB", v/1000)
}

// timeAxis is the x axis of the charts over time: seconds since the start, over
// the whole attack.
func timeAxis(r *Report, by string) axis {
	span := r.Summary.Window.Seconds()
	for _, t := range r.OverTime {
		span = math.Max(span, t.To)
	}
	return axis{label: "seconds since start (by " + by + " time)", lo: 0, hi: math.Max(span, 1)}
}

// plotted returns the ticks whose rates the charts show (no slivers).
func plotted(ts []Tick) []Tick {
	var out []Tick
	for _, t := range ts {
		if !t.Sliver() {
			out = append(out, t)
		}
	}
	return out
}

func figures(r *Report) []figure {
	if len(r.OverTime) == 0 {
		return []figure{{ID: "results", Title: "Results", Empty: "No results: nothing was sent."}}
	}
	return []figure{throughputFigure(r), codesFigure(r), errorsFigure(r), latencyFigure(r), e2eFigure(r), bytesFigure(r), histogramFigure(r), percentileFigure(r)}
}

func throughputFigure(r *Report) figure {
	c := chart{id: "throughput", title: "Throughput over time", x: timeAxis(r, "intended send"), y: axis{label: "requests per second (req/s)"}}
	sent, ok, target := line{name: "sent", color: "#8250df"}, line{name: "successful", color: "#1a7f37"}, line{name: "target", color: "#6e7781", dash: true}
	hasTarget := false
	for _, t := range plotted(r.OverTime) {
		x := t.Mid()
		sent.xs, sent.ys = append(sent.xs, x), append(sent.ys, t.Sent)
		ok.xs, ok.ys = append(ok.xs, x), append(ok.ys, t.Throughput)
		target.xs, target.ys = append(target.xs, x), append(target.ys, t.Target)
		hasTarget = hasTarget || t.Target > 0
	}
	c.lines = []line{sent, ok}
	c.legend = []legendItem{{"sent (req/s)", sent.color}, {"successful (req/s)", ok.color}}
	if hasTarget {
		c.lines = append(c.lines, target)
		c.legend = append(c.legend, legendItem{"target (req/s), dashed", target.color})
	}
	return figure{ID: c.id, Title: "Throughput", SVG: c.svg(),
		Caption: "Requests per second by intended send time: sent, successful (2xx/3xx without error) and the pacer's target. " + partialNote}
}

// stack adds one stacked bar per plotted tick: the values of keys, bottom up.
func stack(c *chart, ts []Tick, keys []string, colors map[string]string, value func(Tick, string) float64) {
	for _, t := range ts {
		x0, x1 := t.From, t.To
		if w := x1 - x0; w > 0.3 {
			x0, x1 = x0+0.05*w, x1-0.05*w
		}
		y := 0.0
		for _, k := range keys {
			v := value(t, k)
			if v <= 0 {
				continue
			}
			c.rects = append(c.rects, rect{series: k, color: colors[k], x0: x0, x1: x1, y0: y, y1: y + v})
			y += v
		}
	}
	for _, k := range keys {
		c.legend = append(c.legend, legendItem{k, colors[k]})
	}
}

func codeLabel(c uint16) string {
	if c == 0 {
		return "0 (no reply)"
	}
	return fmt.Sprint(c)
}

func codesFigure(r *Report) figure {
	c := chart{id: "codes", title: "Status codes over time", x: timeAxis(r, "intended send"), y: axis{label: "replies per second (req/s)"}}
	seen := map[uint16]bool{}
	for _, t := range r.OverTime {
		for code := range t.Codes {
			seen[code] = true
		}
	}
	var codes []uint16
	for code := range seen {
		codes = append(codes, code)
	}
	sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
	keys, colors, byKey := make([]string, len(codes)), map[string]string{}, map[string]uint16{}
	class := map[int]int{}
	for i, code := range codes {
		keys[i] = codeLabel(code)
		colors[keys[i]] = codeColor(code, class[int(code)/100])
		class[int(code)/100]++
		byKey[keys[i]] = code
	}
	stack(&c, plotted(r.OverTime), keys, colors, func(t Tick, k string) float64 { return t.Codes[byKey[k]] })
	return figure{ID: c.id, Title: "Status codes", SVG: c.svg(),
		Caption: "Replies per second by HTTP status (0: no reply), stacked, by intended send time. " + partialNote}
}

// maxErrorSeries bounds the error kinds charted one by one; the rest are one series.
const maxErrorSeries = 6

func errorsFigure(r *Report) figure {
	if r.Summary.Errors == 0 {
		return figure{ID: "errors", Title: "Errors", Empty: "No errors."}
	}
	c := chart{id: "errors", title: "Errors over time", x: timeAxis(r, "intended send"), y: axis{label: "errors per second (req/s)"}}
	totals := map[string]float64{}
	for _, t := range r.OverTime {
		for k, v := range t.ErrorKinds {
			totals[k] += v * t.Covered
		}
	}
	var kinds []string
	for k := range totals {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if totals[kinds[i]] != totals[kinds[j]] {
			return totals[kinds[i]] > totals[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	const other = "(other kinds)"
	series := map[string]string{}
	for i, k := range kinds {
		series[k] = k
		if i >= maxErrorSeries {
			series[k] = other
		}
	}
	keys := kinds[:min(len(kinds), maxErrorSeries)]
	if len(kinds) > maxErrorSeries {
		keys = append(keys[:len(keys):len(keys)], other)
	}
	colors := map[string]string{}
	for i, k := range keys {
		colors[k] = palette[i%len(palette)]
	}
	stack(&c, plotted(r.OverTime), keys, colors, func(t Tick, k string) float64 {
		v := 0.0
		for kind, n := range t.ErrorKinds {
			if series[kind] == k {
				v += n
			}
		}
		return v
	})
	return figure{ID: c.id, Title: "Errors", SVG: c.svg(),
		Caption: "Failed requests per second by kind (an HTTP status, or the transport error with the request's URL reduced to its path), stacked, by intended send time. " + partialNote}
}

func latencyFigure(r *Report) figure {
	c := chart{id: "latency", title: "Latency over time", x: timeAxis(r, "intended send"), y: axis{label: "latency (ms)", log: true}}
	p50, p95, p99 := line{name: "p50", color: "#d4a72c"}, line{name: "p95", color: "#bc4c00"}, line{name: "p99", color: "#cf222e"}
	raw := line{name: "p99 actual", color: "#0969da", dash: true}
	for _, t := range r.OverTime {
		if t.Intended.Count == 0 {
			continue
		}
		x := t.Mid()
		for _, p := range []struct {
			l *line
			d time.Duration
		}{{&p50, t.Intended.P50}, {&p95, t.Intended.P95}, {&p99, t.Intended.P99}, {&raw, t.Latency.P99}} {
			p.l.xs, p.l.ys = append(p.l.xs, x), append(p.l.ys, msf(p.d))
		}
	}
	c.lines = []line{raw, p50, p95, p99}
	c.legend = []legendItem{{"p50", p50.color}, {"p95", p95.color}, {"p99", p99.color}, {"p99 from actual send (vegeta), dashed", raw.color}}
	return figure{ID: c.id, Title: "Latency over time", SVG: c.svg(),
		Caption: "Latency percentiles of the requests due in each second, from the intended send time (coordinated omission corrected), and dashed the p99 from the actual send. Log scale."}
}

func e2eFigure(r *Report) figure {
	c := chart{id: "e2e", title: "End-to-end latency over time", x: timeAxis(r, "send"), y: axis{label: "end-to-end latency (ms)", log: true}}
	p50, p95 := line{name: "p50", color: "#1a7f37"}, line{name: "p95", color: "#cf222e"}
	for _, t := range r.OverTime {
		if t.E2E.Count == 0 {
			continue
		}
		x := t.Mid()
		p50.xs, p50.ys = append(p50.xs, x), append(p50.ys, msf(t.E2E.P50))
		p95.xs, p95.ys = append(p95.xs, x), append(p95.ys, msf(t.E2E.P95))
	}
	if len(p50.xs) == 0 {
		msg := "No sampled event was found in ClickHouse"
		if r.Summary.E2E.Count == 0 && r.Summary.E2ELost == 0 {
			msg = "No end-to-end samples: pass --clickhouse (and --sample-every) to measure them"
		} else if r.Summary.E2E.Count > 0 {
			msg = "The sampled events carry no send time, so they cannot be placed over time"
		}
		return figure{ID: c.id, Title: "End-to-end latency over time", Empty: msg + "."}
	}
	c.lines = []line{p50, p95}
	c.legend = []legendItem{{"p50", p50.color}, {"p95", p95.color}}
	return figure{ID: c.id, Title: "End-to-end latency over time", SVG: c.svg(),
		Caption: "Time from send until the event is queryable in ClickHouse, for the sampled events sent in each second (by actual send time): p50 and p95. Log scale."}
}

func bytesFigure(r *Report) figure {
	c := chart{id: "bytes", title: "Bytes over time", x: timeAxis(r, "intended send"), y: axis{label: "bytes per second (bytes/s)", format: si}}
	out, in := line{name: "sent", color: "#0969da"}, line{name: "received", color: "#8250df"}
	for _, t := range plotted(r.OverTime) {
		x := t.Mid()
		out.xs, out.ys = append(out.xs, x), append(out.ys, t.BytesOut)
		in.xs, in.ys = append(in.xs, x), append(in.ys, t.BytesIn)
	}
	c.lines = []line{out, in}
	c.legend = []legendItem{{"sent: request bodies (bytes/s)", out.color}, {"received: reply bodies (bytes/s)", in.color}}
	return figure{ID: c.id, Title: "Bytes", SVG: c.svg(),
		Caption: "Request and reply body bytes per second, by intended send time. " + partialNote}
}

func histogramFigure(r *Report) figure {
	if len(r.Histogram) == 0 {
		return figure{ID: "histogram", Title: "Latency histogram", Empty: "No latencies recorded."}
	}
	c := chart{id: "histogram", title: "Latency histogram", x: axis{label: "latency (ms, log scale)", log: true}, y: axis{label: "requests (count)"}}
	actual, intended := "#0969da", "#cf222e"
	for _, b := range r.Histogram {
		lo, hi := msf(b.Low), msf(b.High)
		mid := math.Sqrt(lo * hi)
		c.rects = append(c.rects,
			rect{series: "actual", color: actual, x0: lo, x1: mid, y1: float64(b.Latency)},
			rect{series: "intended", color: intended, x0: mid, x1: hi, y1: float64(b.Intended)})
	}
	c.legend = []legendItem{{"from actual send (vegeta)", actual}, {"from intended send", intended}}
	return figure{ID: c.id, Title: "Latency histogram", SVG: c.svg(),
		Caption: fmt.Sprintf("How many requests took each latency, in log-scale buckets (%d per factor of ten): in each bucket the left bar counts latencies from the actual send, the right bar from the intended send.", record.BucketsPerDecade)}
}

func percentileFigure(r *Report) figure {
	// x: percentile on a "nines" axis: -log10(1 - p/100), capped at 99.999.
	nines := func(p float64) float64 { return -math.Log10(math.Max(1-math.Min(p, 99.999)/100, 1e-5)) }
	c := chart{id: "percentiles", title: "Latency by percentile", x: axis{label: "percentile (nines scale)", lo: 0, hi: nines(100)},
		y: axis{label: "latency (ms)", log: true}}
	intended, raw, e2e := line{name: "intended", color: "#cf222e"}, line{name: "actual", color: "#0969da"}, line{name: "e2e", color: "#1a7f37"}
	for _, p := range r.Percentile {
		x := nines(p.Percentile)
		label := fmt.Sprintf("p%g", p.Percentile)
		if p.Percentile == 100 {
			label = "max"
		}
		c.x.ticks = append(c.x.ticks, tick{x, label})
		if p.Intended > 0 {
			intended.xs, intended.ys = append(intended.xs, x), append(intended.ys, msf(p.Intended))
		}
		if p.Latency > 0 {
			raw.xs, raw.ys = append(raw.xs, x), append(raw.ys, msf(p.Latency))
		}
		if p.E2E > 0 {
			e2e.xs, e2e.ys = append(e2e.xs, x), append(e2e.ys, msf(p.E2E))
		}
	}
	c.lines = []line{e2e, raw, intended}
	c.legend = []legendItem{{"from intended send", intended.color}, {"from actual send (vegeta)", raw.color}}
	if len(e2e.xs) > 0 {
		c.legend = append(c.legend, legendItem{"end-to-end", e2e.color})
	}
	return figure{ID: c.id, Title: "Latency by percentile", SVG: c.svg(),
		Caption: "Whole-run latency at each percentile. Log scale."}
}
