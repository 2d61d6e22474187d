package regions

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// palette colours the targets, in order; it repeats after eight.
const palette = "#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #17becf #8c564b #e377c2"

// color is target i's colour.
func color(i int) string {
	colors := strings.Fields(palette)
	return colors[i%len(colors)]
}

// WriteSVG draws every target's percentile curve in one chart: latency (linear) by
// percentile on the log scale of 1/(1−q) used by HDR histogram plots, with each reported
// quantile marked with its confidence interval. The SVG is self-contained (no scripts,
// fonts or network) and renders offline.
func WriteSVG(w io.Writer, r Report) error {
	const (
		width, height          = 860, 460
		left, right, top, bott = 70, 20, 40, 50
	)
	pw, ph := float64(width-left-right), float64(height-top-bott)
	maxT, maxY := 1.0, 0.0
	for _, t := range r.Targets {
		for _, p := range t.Curve {
			if p.Q < 1 {
				maxT = math.Max(maxT, logit(p.Q))
				maxY = math.Max(maxY, millis(p.Latency))
			}
		}
		for _, q := range t.Quantiles {
			maxY = math.Max(maxY, millis(q.Hi))
		}
	}
	if maxY == 0 {
		maxY = 1
	}
	yStep := niceStep(maxY / 6)
	maxY = math.Ceil(maxY*1.05/yStep) * yStep
	x := func(q float64) float64 { return float64(left) + pw*math.Min(logit(q), maxT)/maxT }
	y := func(ms float64) float64 { return float64(top) + ph*(1-ms/maxY) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">Latency by percentile (%s)</text>`+"\n", left, html.EscapeString(string(r.Metric)))
	// Grid and axes.
	for v := 0.0; v <= maxY+1e-9; v += yStep {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", left-6, y(v), trimFloat(v))
	}
	for _, tick := range []float64{0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999} {
		if logit(tick) > maxT+1e-9 {
			break
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>`+"\n", x(tick), x(tick), top, height-bott)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(tick), height-bott+16, QuantileName(tick))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#444"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">percentile</text>`+"\n", float64(left)+pw/2, height-10)
	fmt.Fprintf(&b, `<text transform="translate(16 %.0f) rotate(-90)" text-anchor="middle">latency (ms)</text>`+"\n", float64(top)+ph/2)
	// One curve per target, with the reported quantiles and their intervals.
	for i, t := range r.Targets {
		color := color(i)
		var pts []string
		for _, p := range t.Curve {
			if p.Q < 1 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Q), y(millis(p.Latency))))
			}
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		}
		for _, q := range t.Quantiles {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="6" stroke-opacity="0.35"/>`+"\n",
				x(q.Q), x(q.Q), y(millis(q.Lo)), y(millis(q.Hi)), color)
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s %s: %s (%g%% CI %s–%s)</title></circle>`+"\n",
				x(q.Q), y(millis(q.Value)), color, html.EscapeString(t.Name), QuantileName(q.Q), ms(q.Value), r.Level*100, msNum(q.Lo), ms(q.Hi))
		}
		ly := top + 16 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", left+12, left+36, ly, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s (n=%d)</text>`+"\n", left+42, ly, html.EscapeString(t.Name), t.Samples)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// logit is the HDR plot's x coordinate of quantile q: log10(1/(1−q)).
func logit(q float64) float64 {
	if q >= 1 {
		return math.Inf(1)
	}
	return -math.Log10(1 - q)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// niceStep rounds a raw axis step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
