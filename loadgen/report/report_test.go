package report

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/loadgen/record"
	"github.com/shakedown-dev/shakedown/loadgen/threshold"
)

// classify stands in for traffic.Classify: kind from the path, encoding from
// the compression parameter (json without one).
func classify(method, raw string) (string, string) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	enc := u.Query().Get("compression")
	if enc == "" {
		enc = "json"
	}
	switch u.Path {
	case "/i/v0/e/":
		return "event", enc
	case "/batch/":
		return "batch", enc
	}
	return "", enc
}

// attack records a constant 50/s attack of 150 hits from start, on schedule:
// even hits are events, odd ones batches; every third hit is gzip-js, the rest
// json; hit 7 gets a 503 and hit 8 a transport error. Every tenth hit is a
// sampled event found 100+i ms after its send.
func attack(start time.Time) *record.Recorder {
	p := vegeta.ConstantPacer{Freq: 50, Per: time.Second}
	rec := record.New(record.Options{Start: start, Schedule: record.NewSchedule(p), Classify: classify})
	sched := record.NewSchedule(p)
	for i := 0; i < 150; i++ {
		path := "/i/v0/e/"
		if i%2 == 1 {
			path = "/batch/"
		}
		q := "?_=" + strconv.Itoa(i)
		if i%3 == 0 {
			q += "&compression=gzip-js"
		}
		sent := start.Add(sched.Offset(uint64(i)))
		res := &vegeta.Result{Seq: uint64(i), Code: 200, Method: "POST", URL: "http://127.0.0.1:1" + path + q, Timestamp: sent,
			Latency: time.Duration(1+i%20) * time.Millisecond, BytesOut: 100 + 900*uint64(i%2), BytesIn: 13}
		switch i {
		case 7:
			res.Code = 503
		case 8:
			res.Code, res.Error = 0, `Post "http://127.0.0.1:1`+path+q+`": dial tcp: connection refused`
		}
		rec.Add(res)
		if i%10 == 0 {
			rec.AddE2EAt(sent, time.Duration(100+i)*time.Millisecond)
		}
	}
	rec.Finish(start.Add(3 * time.Second))
	return rec
}

func sample(t *testing.T) *Report {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	ts, err := threshold.ParseAll([]string{"p(95)<300ms", "errors<0.1%"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Target: "http://127.0.0.1:1", Pacer: "constant 50/s", Rate: 50, Duration: 3 * time.Second, Seed: 9,
		Command: CommandLine([]string{"/usr/bin/shakedown", "load", "--rate", "50", "--clickhouse-password", "hunter2"})}
	return New("load <test> | x", cfg, attack(start), ts)
}

func encode(t *testing.T, name string, r *Report) string {
	t.Helper()
	enc, _, err := ByName(name)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := enc(&buf, r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return buf.String()
}

func TestEncoders(t *testing.T) {
	r := sample(t)
	if r.Passed {
		t.Fatal("errors<0.1% should fail with 2 errors in 150")
	}
	for _, name := range Formats() {
		out := encode(t, name, r)
		switch name {
		case "text":
			for _, want := range []string{"150 sent of 150 scheduled", "✓ p(95)<300ms", "✗ errors<0.1%", "from intended send"} {
				if !strings.Contains(out, want) {
					t.Errorf("text report lacks %q:\n%s", want, out)
				}
			}
		case "md":
			for _, want := range []string{"## ❌ load &lt;test&gt; \\| x", "| ✓ | `p(95)<300ms` |", "| ✗ | `errors<0.1%` |", "|---|"} {
				if !strings.Contains(out, want) {
					t.Errorf("markdown report lacks %q:\n%s", want, out)
				}
			}
		case "json":
			var back Report
			if err := json.Unmarshal([]byte(out), &back); err != nil || back.Summary.Requests != 150 || len(back.Thresholds) != 2 {
				t.Errorf("JSON report does not round-trip: %v %+v", err, back.Summary)
			}
		case "html":
			for _, bad := range []string{"<script", "src=", "href=\"http", "@import"} {
				if strings.Contains(out, bad) {
					t.Errorf("HTML report contains %q: must render offline", bad)
				}
			}
			if !strings.Contains(out, "load &lt;test&gt;") {
				t.Errorf("HTML report does not escape the title")
			}
		}
	}
	if _, _, err := ByName("pdf"); err == nil {
		t.Error("ByName(pdf) should fail")
	}
}

func TestBreakdownTablesInEveryFormat(t *testing.T) {
	r := sample(t)
	// 75 events (even hits, incl. the transport error at 8), 75 batches (incl.
	// the 503 at 7); gzip-js every third hit (50, incl. neither error), json 100.
	want := map[string][3]uint64{"batch": {75, 1, 75 * 1000}, "event": {75, 1, 75 * 100}}
	if len(r.Kinds) != 2 {
		t.Fatalf("kinds: %+v", r.Kinds)
	}
	for _, g := range r.Kinds {
		if w := want[g.Kind]; g.Requests != w[0] || g.Errors != w[1] || g.BytesOut != w[2] || g.Intended.Count != w[0] || g.Latency.P99 == 0 {
			t.Errorf("kind %s: %+v, want requests/errors/bytes %v", g.Kind, g, w)
		}
	}
	if len(r.Encodings) != 2 || r.Encodings[0].Encoding != "gzip-js" || r.Encodings[0].Requests != 50 || r.Encodings[0].Errors != 0 ||
		r.Encodings[1].Encoding != "json" || r.Encodings[1].Requests != 100 || r.Encodings[1].Errors != 2 || r.Encodings[1].ErrorRate != 0.02 {
		t.Errorf("encodings: %+v", r.Encodings)
	}
	text := encode(t, "text", r)
	for _, re := range []string{`by kind\s+requests\s+errors\s+error%`, `event\s+75\s+1\s+1.333%`, `batch\s+75\s+1\s+1.333%\s+.*75.0 kB`,
		`by encoding\s+requests`, `gzip-js\s+50\s+0\s+0%`, `json\s+100\s+2\s+2%`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("text report lacks %s:\n%s", re, text)
		}
	}
	md := encode(t, "md", r)
	for _, want := range []string{"| Kind | Requests | Errors | Error % | p50 |", "| event | 75 | 1 | 1.333% |", "| batch | 75 | 1 | 1.333% |",
		"| Encoding | Requests |", "| gzip-js | 50 | 0 | 0% |", "| json | 100 | 2 | 2% |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown report lacks %q:\n%s", want, md)
		}
	}
	html := encode(t, "html", r)
	for _, want := range []string{"<th class=\"l\">Kind</th>", "<td class=\"l\">event</td><td>75</td><td>1</td><td>1.333%</td>",
		"<th class=\"l\">Encoding</th>", "<td class=\"l\">json</td><td>100</td><td>2</td><td>2%</td>"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	var back Report
	if err := json.Unmarshal([]byte(encode(t, "json", r)), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Kinds, r.Kinds) || !reflect.DeepEqual(back.Encodings, r.Encodings) {
		t.Errorf("breakdowns do not round-trip through JSON:\n%+v\n%+v", back.Kinds, r.Kinds)
	}
}

func TestJSONHoldsOverTimeHistogramAndMetadata(t *testing.T) {
	r := sample(t)
	var back Report
	if err := json.Unmarshal([]byte(encode(t, "json", r)), &back); err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{
		"over_time":  reflect.DeepEqual(back.OverTime, r.OverTime) && len(r.OverTime) >= 3,
		"periods":    reflect.DeepEqual(back.Periods, r.Periods) && len(r.Periods) >= 3,
		"histogram":  reflect.DeepEqual(back.Histogram, r.Histogram) && len(r.Histogram) > 5,
		"timeline":   reflect.DeepEqual(back.Timeline, r.Timeline),
		"config":     reflect.DeepEqual(back.Config, r.Config),
		"date":       back.Config.Date.Equal(time.Unix(1_700_000_000, 0)),
		"go version": back.Config.Versions.Go == runtime.Version(),
	} {
		if !ok {
			t.Errorf("JSON report: %s does not round-trip or is missing", name)
		}
	}
	// Second 0 holds hits 0..48 (20 ms apart from 20 ms): the 503 and the
	// transport error, and the e2e samples of hits 0, 10, 20, 30, 40.
	s0 := r.OverTime[0]
	if s0.Codes[503] != 1 || s0.Codes[0] != 1 || s0.ErrorKinds["status 503"] != 1 || s0.ErrorKinds["POST /batch/: dial tcp: connection refused"] != 0 ||
		s0.ErrorKinds["POST /i/v0/e/: dial tcp: connection refused"] != 1 || s0.E2E.Count != 5 || s0.Target != 49 || s0.Sent != 49 || s0.Throughput != 47 {
		t.Errorf("first second: %+v", s0)
	}
	var sum uint64
	for _, b := range r.Histogram {
		sum += b.Latency
		if b.High <= b.Low {
			t.Errorf("bucket %+v", b)
		}
	}
	if sum != 150 {
		t.Errorf("histogram holds %d latencies, want 150", sum)
	}
}

func TestMetadataInEveryFormat(t *testing.T) {
	if v := ReadVersions(); v.Go != runtime.Version() || v.Shakedown == "" {
		t.Errorf("ReadVersions: %+v", v)
	}
	r := sample(t)
	if r.Config.Versions.Go != runtime.Version() {
		t.Errorf("New does not fill the versions: %+v", r.Config.Versions)
	}
	r.Config.Versions = Versions{Shakedown: "v1.2.3 (abcdef)", Go: "go1.99", Vegeta: "v12.13.0"}
	for _, name := range Formats() {
		out := encode(t, name, r)
		for _, want := range []string{"2023-11-14T22:13:20Z", "shakedown load --rate 50 --clickhouse-password ***", "v1.2.3 (abcdef)", "go1.99", "v12.13.0"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q", name, want)
			}
		}
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s report shows the password", name)
		}
	}
}

func TestCommandLine(t *testing.T) {
	got := CommandLine([]string{"/x/shakedown", "load", "--threshold", "p(95)<300ms", "--clickhouse-password=s3cret", "--token", "phc_1", "--mix", "event=1"})
	want := `shakedown load --threshold 'p(95)<300ms' --clickhouse-password=*** --token phc_1 --mix event=1`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// svgOf returns the SVG of the chart named id in page.
func svgOf(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `data-chart="`+id+`"`)
	if i < 0 {
		t.Fatalf("HTML report has no %s chart", id)
	}
	start := strings.LastIndex(page[:i], "<svg")
	end := strings.Index(page[i:], "</svg>")
	return page[start : i+end]
}

func TestHTMLChartsHaveAxisLabels(t *testing.T) {
	page := encode(t, "html", sample(t))
	units := map[string]string{"throughput": "req/s", "codes": "req/s", "errors": "req/s", "bytes": "bytes/s",
		"latency": "(ms)", "e2e": "(ms)", "histogram": "(count)", "percentiles": "(ms)"}
	for id, unit := range units {
		svg := svgOf(t, page, id)
		ylabel := regexp.MustCompile(`class="ylabel"[^>]*>([^<]*)<`).FindStringSubmatch(svg)
		xlabel := regexp.MustCompile(`class="xlabel"[^>]*>([^<]*)<`).FindStringSubmatch(svg)
		if ylabel == nil || !strings.Contains(ylabel[1], unit) {
			t.Errorf("%s chart: y label %v, want one with %s", id, ylabel, unit)
		}
		if xlabel == nil || xlabel[1] == "" {
			t.Errorf("%s chart: no x label", id)
		}
		if id != "histogram" && id != "percentiles" && !strings.Contains(xlabel[1], "seconds since start") {
			t.Errorf("%s chart: x label %q", id, xlabel[1])
		}
		if n := strings.Count(svg, `text-anchor="end"`); n < 2 {
			t.Errorf("%s chart: %d y tick labels", id, n)
		}
		if n := strings.Count(svg, `text-anchor="middle">`); n < 3 {
			t.Errorf("%s chart: %d x tick labels", id, n)
		}
		if !strings.Contains(svg, "data-series=") {
			t.Errorf("%s chart plots nothing", id)
		}
	}
	codes := svgOf(t, page, "codes")
	for _, series := range []string{`data-series="200"`, `data-series="503"`, `data-series="0 (no reply)"`} {
		if !strings.Contains(codes, series) {
			t.Errorf("status code chart lacks %s", series)
		}
	}
	if !strings.Contains(svgOf(t, page, "throughput"), `data-series="target"`) {
		t.Error("throughput chart lacks the target rate")
	}
	if n := strings.Count(page, "<figcaption>"); n != len(units) {
		t.Errorf("%d captions for %d charts", n, len(units))
	}
	if !strings.Contains(page, "left out") {
		t.Error("captions do not say how partial seconds are shown")
	}
}

// points returns the y pixel coordinates of the polyline of series in svg.
func points(t *testing.T, svg, series string) []float64 {
	t.Helper()
	m := regexp.MustCompile(`data-series="` + regexp.QuoteMeta(series) + `"[^>]*points="([^"]*)"`).FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("no %s line", series)
	}
	var ys []float64
	for _, p := range strings.Fields(m[1]) {
		y, err := strconv.ParseFloat(p[strings.IndexByte(p, ',')+1:], 64)
		if err != nil {
			t.Fatal(err)
		}
		ys = append(ys, y)
	}
	return ys
}

// An attack at a steady rate that begins half-way into a second covers only
// half of its first and last wall-clock seconds: neither may plot as a dip.
func TestPartialSecondsAreNotDips(t *testing.T) {
	start := time.Unix(1_700_000_000, 500_000_000)
	p := vegeta.ConstantPacer{Freq: 100, Per: time.Second}
	rec := record.New(record.Options{Start: start, Schedule: record.NewSchedule(p)})
	sched := record.NewSchedule(p)
	for i := 0; i < 400; i++ {
		rec.Add(&vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: start.Add(sched.Offset(uint64(i))), Latency: time.Millisecond, BytesOut: 500})
	}
	rec.Finish(start.Add(4 * time.Second))
	r := New("steady", Config{Pacer: "constant 100/s", Duration: 4 * time.Second}, rec, nil)
	if len(r.OverTime) < 5 || r.OverTime[0].Covered != 0.5 {
		t.Fatalf("want 5 seconds, the first half covered: %+v", r.OverTime)
	}
	for _, tk := range r.OverTime {
		if tk.Sliver() {
			continue
		}
		for name, v := range map[string]float64{"sent": tk.Sent, "throughput": tk.Throughput, "target": tk.Target, "bytes": tk.BytesOut / 500} {
			if v < 95 || v > 105 {
				t.Errorf("second at %.1f s (covered %.2f): %s %.1f/s, want about 100/s", tk.From, tk.Covered, name, v)
			}
		}
	}
	page := encode(t, "html", r)
	for _, c := range []struct{ chart, series string }{{"throughput", "sent"}, {"throughput", "successful"}, {"bytes", "sent"}} {
		ys := points(t, svgOf(t, page, c.chart), c.series)
		lo, hi := ys[0], ys[0]
		for _, y := range ys {
			lo, hi = min(lo, y), max(hi, y)
		}
		// The plot is 220 px high, the axis tops out just above 100/s.
		if len(ys) < 4 || hi-lo > 15 {
			t.Errorf("%s chart, %s: y pixels %v dip", c.chart, c.series, ys)
		}
	}
	text := encode(t, "text", r)
	rows := regexp.MustCompile(`(?m)^\s+\d+\.\d\s+\d+\.\d\s+(\d+\.\d)\s`).FindAllStringSubmatch(text, -1)
	if len(rows) < 4 {
		t.Fatalf("text table over time has %d rows:\n%s", len(rows), text)
	}
	for _, row := range rows {
		if v, _ := strconv.ParseFloat(row[1], 64); v < 95 || v > 105 {
			t.Errorf("text table over time: sent %s/s, want about 100/s:\n%s", row[1], text)
		}
	}
}

// A long run's text table over time groups seconds into at most 20 rows.
func TestTextOverTimeGroupsLongRuns(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	rec := record.New(record.Options{Start: start})
	for i := 0; i < 600; i++ {
		rec.Add(&vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: start.Add(time.Duration(i) * 100 * time.Millisecond), Latency: time.Millisecond})
	}
	rec.Finish(start.Add(60 * time.Second))
	r := New("long", Config{}, rec, nil)
	if len(r.OverTime) != 60 || len(r.Periods) != 20 || r.Periods[0].Length != 3 || r.Periods[0].Sent != 10 {
		t.Errorf("%d seconds, %d periods, first %+v", len(r.OverTime), len(r.Periods), r.Periods[0])
	}
	if text := encode(t, "text", r); !strings.Contains(text, "in periods of 3 s") {
		t.Errorf("text report:\n%s", text)
	}
}

func TestEmptyReport(t *testing.T) {
	rec := record.New(record.Options{Classify: classify})
	rec.Finish(time.Unix(1_700_000_000, 0))
	r := New("nothing", Config{}, rec, nil)
	for _, name := range Formats() {
		if out := encode(t, name, r); out == "" {
			t.Errorf("%s report of no results is empty", name)
		}
	}
	if html := encode(t, "html", r); !strings.Contains(html, "No results") || strings.Contains(html, "<svg") {
		t.Errorf("HTML report of no results should say so instead of plotting")
	}
}
