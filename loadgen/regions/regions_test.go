package regions

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// counterStream yields request k as POST /e/?k=k with body "event k".
func counterStream() vegeta.Targeter {
	var mu sync.Mutex
	k := 0
	return func(t *vegeta.Target) error {
		mu.Lock()
		defer mu.Unlock()
		*t = vegeta.Target{
			Method: http.MethodPost,
			URL:    "http://stream.invalid/e/?k=" + strconv.Itoa(k),
			Body:   []byte("event " + strconv.Itoa(k)),
			Header: http.Header{"Content-Type": {"text/plain"}, "Host": {"stream.invalid"}},
		}
		k++
		return nil
	}
}

// recordingServer answers after delay and remembers every request's query, body and host.
type recordingServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func newRecordingServer(t *testing.T, delay time.Duration) *recordingServer {
	s := &recordingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, fmt.Sprintf("%s %s %s host=%v", r.Method, r.URL.RequestURI(), body, r.Host == strings.TrimPrefix(s.URL, "http://")))
		s.mu.Unlock()
		time.Sleep(delay)
		_, _ = w.Write([]byte(`{"status":1}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *recordingServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.requests)
	slices.Sort(out)
	return out
}

func TestInterleaverRotatesTheSameStreamAcrossTargets(t *testing.T) {
	in := &interleaver{stream: counterStream(), round: -1}
	for _, u := range []string{"http://a.test/base", "http://b.test", "http://c.test/"} {
		b, _ := url.Parse(u)
		in.bases = append(in.bases, b)
	}
	var got []string
	for range 9 {
		var tgt vegeta.Target
		if err := in.targeter(&tgt); err != nil {
			t.Fatal(err)
		}
		if tgt.Header.Get("Host") != "" {
			t.Errorf("%s: the stream's Host header must be dropped", tgt.URL)
		}
		got = append(got, tgt.URL)
	}
	want := []string{
		// round 0: a, b, c; round 1 starts at b; round 2 at c.
		"http://a.test/base/e/?k=0#shakedown-hit=0", "http://b.test/e/?k=0#shakedown-hit=1", "http://c.test/e/?k=0#shakedown-hit=2",
		"http://b.test/e/?k=1#shakedown-hit=3", "http://c.test/e/?k=1#shakedown-hit=4", "http://a.test/base/e/?k=1#shakedown-hit=5",
		"http://c.test/e/?k=2#shakedown-hit=6", "http://a.test/base/e/?k=2#shakedown-hit=7", "http://b.test/e/?k=2#shakedown-hit=8",
	}
	if !slices.Equal(got, want) {
		t.Errorf("interleaving:\n got %q\nwant %q", got, want)
	}
	for hit, u := range want {
		h, ok := hitFromURL(u)
		if !ok || h != uint64(hit) || strings.Contains(stripHit(u), "#") {
			t.Errorf("hitFromURL(%q) = %d, %v; stripHit = %q", u, h, ok, stripHit(u))
		}
	}
	if in.rounds() != 3 {
		t.Errorf("rounds() = %d, want 3", in.rounds())
	}
}

func TestRunSendsEveryRoundToEveryTarget(t *testing.T) {
	fast, slow := newRecordingServer(t, 0), newRecordingServer(t, 15*time.Millisecond)
	res, err := Run(context.Background(), Options{
		Targets: []Target{{"fast", fast.URL}, {"slow", slow.URL}},
		Stream:  counterStream(), Rate: 100, Rounds: 60, Warmup: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := fast.seen(), slow.seen()
	if len(a) != 60 || !slices.Equal(a, b) {
		t.Fatalf("targets saw different streams (%d vs %d requests):\n%q\n%q", len(a), len(b), a, b)
	}
	if !strings.HasSuffix(a[0], "host=true") || strings.Contains(a[0], "#") {
		t.Errorf("request %q: want the target's own Host and no fragment on the wire", a[0])
	}
	if res.Sent != 60 || res.Interrupted {
		t.Errorf("sent %d rounds, interrupted %v; want 60, false", res.Sent, res.Interrupted)
	}
	for _, tr := range res.Targets {
		if len(tr.Latency) != 50 || len(tr.Intended) != 50 || tr.Summary.Requests != 50 || tr.Summary.Errors != 0 {
			t.Errorf("%s: %d latencies, %d intended, %d requests recorded, %d errors; want 50, 50, 50 (10 warm-up rounds dropped), 0",
				tr.Target.Name, len(tr.Latency), len(tr.Intended), tr.Summary.Requests, tr.Summary.Errors)
		}
		for i := range tr.Latency {
			if tr.Intended[i] < tr.Latency[i] {
				t.Fatalf("%s: intended latency %s below actual %s", tr.Target.Name, tr.Intended[i], tr.Latency[i])
			}
		}
	}
	rep, err := Analyze(res, AnalyzeOptions{Seed: 3, Resamples: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := rep.Comparison("fast", "slow", 0.5)
	if !ok || c.Faster() != 'a' || !strings.HasPrefix(c.Verdict, "fast has ") || c.Method != Paired || c.Independent == nil {
		t.Errorf("p50 verdict %q (method %s): want fast named as having lower latency, from the paired bootstrap", c.Verdict, c.Method)
	}
}

func TestRunInterruptedReturnsPartialResult(t *testing.T) {
	srv := newRecordingServer(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	res, err := Run(ctx, Options{
		Targets: []Target{{"a", srv.URL}, {"b", srv.URL + "/"}},
		Stream:  counterStream(), Rate: 50, Duration: time.Minute,
	})
	if err != nil {
		t.Fatalf("interrupted run returned error %v, want a partial result", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("run took %s after its context ended at 300ms", took)
	}
	if !res.Interrupted || res.Rounds != 3000 || res.Sent == 0 || res.Sent >= 100 {
		t.Errorf("interrupted=%v rounds=%d sent=%d: want an interrupted run of a few of 3000 rounds", res.Interrupted, res.Rounds, res.Sent)
	}
	if len(res.Targets[0].Latency) == 0 {
		t.Error("no latencies kept from before the interruption")
	}
	rep, err := Analyze(res, AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteText(&out, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "INTERRUPTED") {
		t.Errorf("partial report does not say it was interrupted:\n%s", out.String())
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	ok := []Target{{"eu", "http://127.0.0.1:1"}, {"us", "http://127.0.0.1:2"}}
	for name, o := range map[string]Options{
		"one target":  {Targets: ok[:1], Stream: counterStream(), Rounds: 1},
		"same name":   {Targets: []Target{ok[0], {"eu", "http://x"}}, Stream: counterStream(), Rounds: 1},
		"bad url":     {Targets: []Target{ok[0], {"us", "ftp://x"}}, Stream: counterStream(), Rounds: 1},
		"no stream":   {Targets: ok, Rounds: 1},
		"no length":   {Targets: ok, Stream: counterStream()},
		"bad rate":    {Targets: ok, Stream: counterStream(), Rounds: 1, Rate: -1},
		"bad warm-up": {Targets: ok, Stream: counterStream(), Rounds: 1, Warmup: -1},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%s: accepted, want an error", name)
		}
	}
}

func samplesFrom(seed uint64, n int, base, spread time.Duration) Samples {
	r := rand.New(rand.NewPCG(seed, 1))
	s := make(Samples, n)
	for i := range s {
		s[i] = base + time.Duration(r.ExpFloat64()*float64(spread))
	}
	return s
}

func TestVerdicts(t *testing.T) {
	same, err := Compare(samplesFrom(1, 400, 30*time.Millisecond, 5*time.Millisecond), samplesFrom(2, 400, 30*time.Millisecond, 5*time.Millisecond), 0.5, 0.95, 2000, 9)
	if err != nil {
		t.Fatal(err)
	}
	if same.Significant || same.Faster() != 0 || !strings.HasPrefix(same.Verdict("eu", "us"), "no significant difference at p50 between eu and us") {
		t.Errorf("same distribution: verdict %q, want no significant difference", same.Verdict("eu", "us"))
	}
	if !(same.Diff.Lo < 0 && same.Diff.Hi > 0) {
		t.Errorf("same distribution: difference interval %s–%s should straddle 0", same.Diff.Lo, same.Diff.Hi)
	}

	// eu ≈ 20ms+, us ≈ 50ms+: eu has ~ (1 − 23.5/53.5) = 56% lower latency at p50.
	eu, us := samplesFrom(3, 400, 20*time.Millisecond, 5*time.Millisecond), samplesFrom(4, 400, 50*time.Millisecond, 5*time.Millisecond)
	for _, tc := range []struct {
		a, b         Samples
		nameA, nameB string
		faster       byte
	}{
		{eu, us, "eu", "us", 'a'},
		{us, eu, "us", "eu", 'b'},
	} {
		c, err := Compare(tc.a, tc.b, 0.5, 0.95, 2000, 9)
		if err != nil {
			t.Fatal(err)
		}
		v := c.Verdict(tc.nameA, tc.nameB)
		if c.Faster() != tc.faster || !strings.HasPrefix(v, "eu has ") || !strings.Contains(v, "% lower latency than us at p50 (95% CI") || !strings.Contains(v, "us has 2.") {
			t.Errorf("%s vs %s: faster=%q verdict %q, want eu named faster", tc.nameA, tc.nameB, c.Faster(), v)
		}
		s := c.Reduction()
		if s.Value < 0.50 || s.Value > 0.62 || !(s.Lo <= s.Value && s.Value <= s.Hi) {
			t.Errorf("%s vs %s: latency reduction %+v, want about 56%% inside its interval", tc.nameA, tc.nameB, s)
		}
		// us/eu ≈ 53.5/23.5 ≈ 2.3 times the latency.
		if x := c.Times(); x.Value < 2 || x.Value > 2.6 || !(x.Lo <= x.Value && x.Value <= x.Hi) {
			t.Errorf("%s vs %s: times %+v, want about 2.3 inside its interval", tc.nameA, tc.nameB, x)
		}
	}
}

func TestReportEncoders(t *testing.T) {
	res := Result{
		Targets: []TargetResult{
			{Target: Target{"eu", "http://eu.test"}, Latency: samplesFrom(5, 300, 20*time.Millisecond, 3*time.Millisecond)},
			{Target: Target{"us<&>", "http://us.test"}, Latency: samplesFrom(6, 300, 80*time.Millisecond, 3*time.Millisecond)},
			{Target: Target{"down", "http://down.test"}},
		},
		Rate: 10, Rounds: 300, Sent: 300,
	}
	for i := range res.Targets {
		res.Targets[i].Summary.Requests = uint64(len(res.Targets[i].Latency))
	}
	rep, err := Analyze(res, AnalyzeOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Comparisons) != 4 || len(rep.Targets[0].Quantiles) != 4 || len(rep.Targets[2].Quantiles) != 0 {
		t.Fatalf("%d comparisons, %d/%d quantiles: want 4 (eu–us only), 4 and 0", len(rep.Comparisons), len(rep.Targets[0].Quantiles), len(rep.Targets[2].Quantiles))
	}
	if notes := strings.Join(rep.Notes, "\n"); !strings.Contains(notes, "eu p99 rests on the 3 slowest of 300 requests") || strings.Contains(notes, "p95 rests") {
		t.Errorf("notes %q: want p99 (3 samples above it) flagged as unreliable and p95 (15) not", rep.Notes)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "down: no successful requests") {
		t.Errorf("notes %q do not explain the target without samples", rep.Notes)
	}
	again, _ := Analyze(res, AnalyzeOptions{Seed: 1})
	if fmt.Sprint(again.Comparisons) != fmt.Sprint(rep.Comparisons) {
		t.Error("the same result and seed gave a different report")
	}
	verdict := rep.Comparisons[0].Verdict
	for _, f := range Formats() {
		var buf bytes.Buffer
		if err := Write(&buf, f, rep); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out := buf.String()
		switch f {
		case JSON:
			var back Report
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
				t.Fatalf("json: %v", err)
			}
			if back.Comparisons[0].Verdict != verdict || back.Targets[1].Quantiles[0] != rep.Targets[1].Quantiles[0] {
				t.Error("json does not round-trip the report")
			}
		case HTML:
			if !strings.Contains(out, "<svg") || !strings.Contains(out, "us&lt;&amp;&gt;") || strings.Contains(out, "us<&>") {
				t.Error("html: want the inline SVG plot and escaped target names")
			}
			if strings.Contains(out, "http://") && strings.Contains(out, "src=") {
				t.Error("html loads external resources; it must render offline")
			}
			fallthrough
		default:
			if !strings.Contains(unescape(out), "eu has ") || !strings.Contains(unescape(out), "lower latency than us") {
				t.Errorf("%s report lacks the verdict %q:\n%s", f, verdict, out)
			}
		}
	}
	if err := Write(io.Discard, "pdf", rep); err == nil {
		t.Error("format pdf accepted, want an error")
	}

	var svg bytes.Buffer
	if err := WriteSVG(&svg, rep); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&svg)
	polylines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plot is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 2 {
		t.Errorf("plot has %d curves, want 2 (targets with samples)", polylines)
	}
}

// unescape undoes the escaping the HTML and Markdown encoders apply to verdict text.
func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", `\*`, "*", `\_`, "_").Replace(s)
}
