package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Charts are inline SVG drawn here: no scripts, no external resources. Every
// chart has a labelled y axis with its unit, an x axis with tick labels, and a
// legend naming its series.

const (
	chartW, chartH   = 900, 300
	marginL, marginR = 78, 20
	marginT, marginB = 34, 46
)

// axis is one axis of a chart.
type axis struct {
	// label names the axis with its unit, e.g. "latency (ms)".
	label string
	log   bool
	// lo and hi fix the range when hi > lo; otherwise the data set it.
	lo, hi float64
	// ticks, when set, replace the computed ticks.
	ticks []tick
	// format renders a computed tick's value (default: plain number).
	format func(float64) string
}

type tick struct {
	v     float64
	label string
}

type line struct {
	name, color string
	xs, ys      []float64
	dash        bool
}

type rect struct {
	series, color  string
	x0, x1, y0, y1 float64
}

type legendItem struct{ name, color string }

type chart struct {
	id, title string
	x, y      axis
	lines     []line
	rects     []rect
	legend    []legendItem
}

// niceTicks returns round ticks from lo covering hi, about n of them.
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for i := math.Floor(lo/step + 1e-9); ; i++ {
		v := i * step
		out = append(out, v)
		if v >= hi-step*1e-9 {
			return out
		}
	}
}

// decimals is how many decimals label the ticks of ts.
func decimals(ts []float64) int {
	if len(ts) < 2 {
		return 0
	}
	step := ts[1] - ts[0]
	return max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
}

// resolve fixes a's range and ticks for data values vs.
func (a *axis) resolve(vs []float64, zero bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) || a.log && v <= 0 {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if a.hi > a.lo {
		lo, hi = a.lo, a.hi
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
		if a.log {
			lo, hi = 1, 10
		}
	}
	if a.log {
		a.lo = math.Pow(10, math.Floor(math.Log10(lo)))
		a.hi = math.Pow(10, math.Ceil(math.Log10(hi)+1e-9))
		if a.ticks == nil {
			for v := a.lo; v <= a.hi*1.0001; v *= 10 {
				a.ticks = append(a.ticks, tick{v, strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
		return
	}
	if zero {
		lo = math.Min(lo, 0)
	}
	if a.ticks == nil {
		ts := niceTicks(lo, hi, 6)
		if a.hi > a.lo {
			ts = niceTicks(lo, hi, 10)
			for len(ts) > 0 && ts[len(ts)-1] > hi+1e-9 {
				ts = ts[:len(ts)-1]
			}
		} else {
			lo, hi = ts[0], ts[len(ts)-1]
		}
		d := decimals(ts)
		for _, v := range ts {
			label := strconv.FormatFloat(v, 'f', d, 64)
			if a.format != nil {
				label = a.format(v)
			}
			a.ticks = append(a.ticks, tick{v, label})
		}
	}
	a.lo, a.hi = lo, hi
	if !(a.hi > a.lo) {
		a.hi = a.lo + 1
	}
}

// pos maps v onto [0,1] of the axis.
func (a *axis) pos(v float64) float64 {
	if a.log {
		v = math.Max(v, a.lo)
		return (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	}
	return (v - a.lo) / (a.hi - a.lo)
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// svg renders the chart.
func (c *chart) svg() template.HTML {
	var xs, ys []float64
	for _, l := range c.lines {
		xs, ys = append(xs, l.xs...), append(ys, l.ys...)
	}
	for _, r := range c.rects {
		xs, ys = append(xs, r.x0, r.x1), append(ys, r.y0, r.y1)
	}
	c.x.resolve(xs, false)
	c.y.resolve(ys, true)
	iw, ih := float64(chartW-marginL-marginR), float64(chartH-marginT-marginB)
	px := func(v float64) float64 { return marginL + c.x.pos(v)*iw }
	py := func(v float64) float64 { return marginT + (1-c.y.pos(v))*ih }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" data-chart="%s" font-size="11" font-family="sans-serif">`,
		chartW, chartH, chartW, chartH, esc(c.title), esc(c.id))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(c.title))
	for _, t := range c.y.ticks {
		y := py(t.v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`, marginL, chartW-marginR, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, marginL-6, y+4, esc(t.label))
	}
	for _, t := range c.x.ticks {
		x := px(t.v)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>`, x, x, chartH-marginB, chartH-marginB+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, chartH-marginB+16, esc(t.label))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999"/>`, marginL, chartW-marginR, chartH-marginB, chartH-marginB)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999"/>`, marginL, marginL, marginT, chartH-marginB)
	fmt.Fprintf(&b, `<text class="ylabel" transform="rotate(-90)" x="%.1f" y="16" text-anchor="middle">%s</text>`, -(marginT + ih/2), esc(c.y.label))
	fmt.Fprintf(&b, `<text class="xlabel" x="%.1f" y="%d" text-anchor="middle">%s</text>`, marginL+iw/2, chartH-8, esc(c.x.label))
	lx := float64(marginL)
	for _, it := range c.legend {
		fmt.Fprintf(&b, `<rect x="%.1f" y="10" width="10" height="10" fill="%s"/><text x="%.1f" y="19">%s</text>`, lx, it.color, lx+14, esc(it.name))
		lx += 14 + 6.5*float64(len([]rune(it.name))) + 16
	}
	for _, r := range c.rects {
		x0, x1, y0, y1 := px(r.x0), px(r.x1), py(r.y1), py(r.y0)
		if x1-x0 <= 0 || y1-y0 <= 0 {
			continue
		}
		fmt.Fprintf(&b, `<rect data-series="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, esc(r.series), x0, y0, x1-x0, y1-y0, r.color)
	}
	for _, l := range c.lines {
		if len(l.xs) == 0 {
			continue
		}
		var pts strings.Builder
		for i := range l.xs {
			if c.y.log && l.ys[i] <= 0 {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(l.xs[i]), py(l.ys[i]))
		}
		dash := ""
		if l.dash {
			dash = ` stroke-dasharray="5,3"`
		}
		fmt.Fprintf(&b, `<polyline data-series="%s" fill="none" stroke="%s" stroke-width="1.6"%s points="%s"/>`, esc(l.name), l.color, dash, strings.TrimSpace(pts.String()))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// si renders v with a k/M/G suffix: 1500 -> 1.5k.
func si(v float64) string {
	for _, u := range []struct {
		f float64
		s string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(v) >= u.f {
			return strconv.FormatFloat(v/u.f, 'f', -1, 64) + u.s
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// palette colours series that have no colour of their own.
var palette = []string{"#cf222e", "#bc4c00", "#8250df", "#0969da", "#1a7f37", "#d4a72c", "#bf3989", "#6e7781"}

// codeColor colours HTTP status codes by class: 2xx greens, 3xx blues, 4xx
// oranges, 5xx reds, no reply grey; i tells codes of one class apart.
func codeColor(code uint16, i int) string {
	shades := map[int][]string{
		2: {"#1a7f37", "#4ac26b", "#116329"},
		3: {"#0969da", "#54aeff", "#0550ae"},
		4: {"#bc4c00", "#fb8f44", "#953800"},
		5: {"#cf222e", "#ff8182", "#a40e26"},
	}
	s, ok := shades[int(code)/100]
	if !ok {
		return "#6e7781"
	}
	return s[i%len(s)]
}
