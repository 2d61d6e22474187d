package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// HTML writes a self-contained page: the summary tables plus two inline SVG plots,
// latency over time and latency by percentile. No scripts, no external resources:
// it renders offline, e.g. as a CI artifact.
func HTML(w io.Writer, r *Report) error {
	var md strings.Builder
	if err := Text(&md, r); err != nil {
		return err
	}
	data := struct {
		R        *Report
		Text     string
		Verdict  string
		OverTime template.HTML
		ByPct    template.HTML
	}{R: r, Text: md.String(), Verdict: verdict(r), OverTime: overTimeSVG(r), ByPct: percentileSVG(r)}
	tpl, err := template.New("report").Parse(page)
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
svg{background:#fff;border:1px solid #ddd} .legend span{margin-right:1.5em}
</style></head><body>
<h1 class="{{if .R.Passed}}pass{{else}}fail{{end}}">{{.R.Title}} — {{.Verdict}}</h1>
{{if .R.Stopped}}<p><b>Stopped early:</b> {{.R.Stopped}} (partial results)</p>{{end}}
{{if .R.Thresholds}}<table><tr><th></th><th>Threshold</th><th>Actual</th><th>Limit</th></tr>
{{range .R.Thresholds}}<tr class="{{if .Pass}}pass{{else}}fail{{end}}"><td>{{if .Pass}}✓{{else}}✗{{end}}</td><td>{{.Rule}}</td><td>{{if .Note}}{{.Note}}{{else}}{{.Actual}}{{end}}</td><td>{{.Threshold.Op}} {{.Want}}</td></tr>
{{end}}</table>{{end}}
<h2>Latency over time</h2>
<p class="legend"><span style="color:#cf222e">■ p99 from intended send</span><span style="color:#d4a72c">■ p50 from intended send</span><span style="color:#0969da">■ p99 vegeta</span><span style="color:#8250df">■ requests/s (right axis)</span></p>
{{.OverTime}}
<h2>Latency by percentile</h2>
<p class="legend"><span style="color:#cf222e">■ from intended send</span><span style="color:#0969da">■ vegeta (actual send)</span><span style="color:#1a7f37">■ end-to-end</span></p>
{{.ByPct}}
<h2>Summary</h2>
<pre>{{.Text}}</pre>
</body></html>
`

const (
	plotW, plotH = 900, 320
	padL, padR   = 70, 60
	padT, padB   = 15, 40
)

type series struct {
	color string
	xs    []float64
	ys    []float64
}

// scaleLog maps a latency in ms onto [0,1] on a log axis from lo to hi.
func scaleLog(v, lo, hi float64) float64 {
	v = math.Max(v, lo)
	return (math.Log10(v) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func logBounds(vals []float64) (float64, float64) {
	lo, hi := math.Inf(1), 0.0
	for _, v := range vals {
		if v > 0 {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi == 0 {
		return 0.1, 1000
	}
	return math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi*1.01)))
}

func svgOpen(b *strings.Builder, label string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" font-size="11" font-family="sans-serif">`,
		plotW, plotH, plotW, plotH, template.HTMLEscapeString(label))
}

func logAxis(b *strings.Builder, lo, hi float64) {
	ih := float64(plotH - padT - padB)
	for v := lo; v <= hi*1.0001; v *= 10 {
		y := float64(plotH-padB) - scaleLog(v, lo, hi)*ih
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`, padL, plotW-padR, y, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-6, y+4, ms(time.Duration(v*float64(time.Millisecond))))
	}
}

func polyline(b *strings.Builder, s series, x func(float64) float64, y func(float64) float64) {
	if len(s.xs) == 0 {
		return
	}
	var pts strings.Builder
	for i := range s.xs {
		fmt.Fprintf(&pts, "%.1f,%.1f ", x(s.xs[i]), y(s.ys[i]))
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`, s.color, strings.TrimSpace(pts.String()))
}

func overTimeSVG(r *Report) template.HTML {
	var b strings.Builder
	svgOpen(&b, "latency over time")
	tl := r.Timeline
	if len(tl) == 0 {
		b.WriteString(`<text x="20" y="30">no results</text></svg>`)
		return template.HTML(b.String())
	}
	t0 := tl[0].At
	var all []float64
	p99, p50, raw99 := series{color: "#cf222e"}, series{color: "#d4a72c"}, series{color: "#0969da"}
	rate := series{color: "#8250df"}
	maxRate := 1.0
	for _, s := range tl {
		x := s.At.Sub(t0).Seconds()
		p99.xs, p99.ys = append(p99.xs, x), append(p99.ys, msf(s.Intended.P99))
		p50.xs, p50.ys = append(p50.xs, x), append(p50.ys, msf(s.Intended.P50))
		raw99.xs, raw99.ys = append(raw99.xs, x), append(raw99.ys, msf(s.Latency.P99))
		rate.xs, rate.ys = append(rate.xs, x), append(rate.ys, float64(s.Requests))
		all = append(all, msf(s.Intended.P99), msf(s.Intended.P50), msf(s.Latency.P99))
		maxRate = math.Max(maxRate, float64(s.Requests))
	}
	lo, hi := logBounds(all)
	span := math.Max(1, tl[len(tl)-1].At.Sub(t0).Seconds())
	iw, ih := float64(plotW-padL-padR), float64(plotH-padT-padB)
	x := func(v float64) float64 { return padL + v/span*iw }
	yLat := func(v float64) float64 { return float64(plotH-padB) - scaleLog(v, lo, hi)*ih }
	yRate := func(v float64) float64 { return float64(plotH-padB) - v/maxRate*ih }
	logAxis(&b, lo, hi)
	step := math.Max(1, math.Ceil(span/10))
	for s := 0.0; s <= span; s += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%gs</text>`, x(s), plotH-padB+16, s)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="start" fill="#8250df">%.0f/s</text>`, plotW-padR+4, padT+8, maxRate)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds since start (by intended send time)</text>`, plotW/2, plotH-6)
	polyline(&b, rate, x, yRate)
	for _, s := range []series{raw99, p50, p99} {
		polyline(&b, s, x, yLat)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func percentileSVG(r *Report) template.HTML {
	var b strings.Builder
	svgOpen(&b, "latency by percentile")
	if r.Summary.Requests == 0 {
		b.WriteString(`<text x="20" y="30">no results</text></svg>`)
		return template.HTML(b.String())
	}
	// x: percentile on a "nines" axis: -log10(1 - p/100), capped at 99.999.
	nines := func(p float64) float64 { return -math.Log10(math.Max(1-math.Min(p, 99.999)/100, 1e-5)) }
	intended, raw, e2e := series{color: "#cf222e"}, series{color: "#0969da"}, series{color: "#1a7f37"}
	var all []float64
	for _, p := range r.Percentile {
		x := nines(p.Percentile)
		intended.xs, intended.ys = append(intended.xs, x), append(intended.ys, msf(p.Intended))
		raw.xs, raw.ys = append(raw.xs, x), append(raw.ys, msf(p.Latency))
		if p.E2E > 0 {
			e2e.xs, e2e.ys = append(e2e.xs, x), append(e2e.ys, msf(p.E2E))
		}
		all = append(all, msf(p.Intended), msf(p.Latency), msf(p.E2E))
	}
	lo, hi := logBounds(all)
	iw, ih := float64(plotW-padL-padR), float64(plotH-padT-padB)
	maxX := nines(100)
	x := func(v float64) float64 { return padL + v/maxX*iw }
	y := func(v float64) float64 { return float64(plotH-padB) - scaleLog(v, lo, hi)*ih }
	logAxis(&b, lo, hi)
	for _, p := range r.Percentile {
		label := fmt.Sprintf("p%g", p.Percentile)
		if p.Percentile == 100 {
			label = "max"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(nines(p.Percentile)), plotH-padB+16, label)
	}
	for _, s := range []series{e2e, raw, intended} {
		polyline(&b, s, x, y)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
