package regions

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/loadgen/stats"
)

// maxSeriesPoints bounds the points of a time series: rounds are bucketed so that a
// long run still draws a readable line.
const maxSeriesPoints = 150

// TargetSeries is one target's latency over the run, round by round.
type TargetSeries struct {
	Name string `json:"name"`
	// Every is how many consecutive rounds each point covers.
	Every  int           `json:"every"`
	Points []SeriesPoint `json:"points"`
}

// SeriesPoint summarises the successful requests of Every consecutive rounds.
type SeriesPoint struct {
	// Round is the first round of the bucket (counted from 0, warm-up included); At
	// its scheduled start from the start of the run (Round / rate).
	Round int           `json:"round"`
	At    time.Duration `json:"at"`
	// N is how many successful requests the bucket holds; P50 and P95 are their
	// median and 95th percentile (0 when N is 0).
	N   int           `json:"n"`
	P50 time.Duration `json:"p50"`
	P95 time.Duration `json:"p95"`
}

// series buckets a target's samples by round; ok is false when the samples do not
// carry their rounds.
func series(name string, samples Samples, rounds []int, res Result) (TargetSeries, bool) {
	if len(rounds) != len(samples) || len(samples) == 0 || res.Rate <= 0 {
		return TargetSeries{}, false
	}
	first, last := res.Warmup, res.Sent-1
	for _, r := range rounds {
		first, last = min(first, r), max(last, r)
	}
	every := max(1, int(math.Ceil(float64(last-first+1)/maxSeriesPoints)))
	buckets := make([][]float64, (last-first)/every+1)
	for i, r := range rounds {
		b := (r - first) / every
		buckets[b] = append(buckets[b], millis(samples[i]))
	}
	s := TargetSeries{Name: name, Every: every}
	for b, v := range buckets {
		round := first + b*every
		p := SeriesPoint{Round: round, At: time.Duration(float64(round) / res.Rate * float64(time.Second)), N: len(v)}
		if len(v) > 0 {
			sample := stats.NewSample(v)
			p.P50, p.P95 = fromMillis(sample.Quantile(0.5)), fromMillis(sample.Quantile(0.95))
		}
		s.Points = append(s.Points, p)
	}
	return s, true
}

// WriteSeriesSVG draws every target's latency over the run: the median (solid) and
// the 95th percentile (dashed) of each bucket of rounds, by time since the start. A
// gap in a line is a bucket without a successful request. The SVG is self-contained
// and renders offline; it is empty of lines when the report has no series.
func WriteSeriesSVG(w io.Writer, r Report) error {
	const (
		width, height          = 860, 360
		left, right, top, bott = 70, 20, 40, 50
	)
	pw, ph := float64(width-left-right), float64(height-top-bott)
	maxX, maxY := 0.0, 0.0
	for _, s := range r.Series {
		for _, p := range s.Points {
			maxX = math.Max(maxX, p.At.Seconds()+float64(s.Every)/math.Max(r.Rate, 1e-9))
			maxY = math.Max(maxY, millis(p.P95))
		}
	}
	if maxX == 0 {
		maxX = 1
	}
	if maxY == 0 {
		maxY = 1
	}
	yStep := niceStep(maxY / 5)
	maxY = math.Ceil(maxY*1.05/yStep) * yStep
	xStep := niceStep(maxX / 8)
	x := func(sec float64) float64 { return float64(left) + pw*sec/maxX }
	y := func(ms float64) float64 { return float64(top) + ph*(1-ms/maxY) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">Latency over the run (%s): p50 solid, p95 dashed</text>`+"\n", left, html.EscapeString(string(r.Metric)))
	for v := 0.0; v <= maxY+1e-9; v += yStep {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", left-6, y(v), trimFloat(v))
	}
	for v := 0.0; v <= maxX+1e-9; v += xStep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>`+"\n", x(v), x(v), top, height-bott)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(v), height-bott+16, trimFloat(v))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#444"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">seconds since the start (warm-up included)</text>`+"\n", float64(left)+pw/2, height-10)
	fmt.Fprintf(&b, `<text transform="translate(16 %.0f) rotate(-90)" text-anchor="middle">latency (ms)</text>`+"\n", float64(top)+ph/2)
	for i, s := range r.Series {
		color := targetColor(r, s.Name, i)
		half := float64(s.Every) / math.Max(r.Rate, 1e-9) / 2
		for _, line := range []struct {
			pick func(SeriesPoint) time.Duration
			dash string
		}{
			{func(p SeriesPoint) time.Duration { return p.P50 }, ""},
			{func(p SeriesPoint) time.Duration { return p.P95 }, ` stroke-dasharray="5 4" stroke-opacity="0.7"`},
		} {
			var pts []string
			flush := func() {
				if len(pts) > 0 {
					fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", color, line.dash, strings.Join(pts, " "))
				}
				pts = nil
			}
			for _, p := range s.Points {
				if p.N == 0 {
					flush()
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At.Seconds()+half), y(millis(line.pick(p)))))
			}
			flush()
		}
		ly := top + 16 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", left+12, left+36, ly, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s (%d rounds a point)</text>`+"\n", left+42, ly, html.EscapeString(s.Name), s.Every)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// targetColor is the colour of the target named name: its position among r.Targets,
// so that both plots and the tables agree (fallback: i).
func targetColor(r Report, name string, i int) string {
	for k, t := range r.Targets {
		if t.Name == name {
			return color(k)
		}
	}
	return color(i)
}
