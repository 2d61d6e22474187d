package result

import (
	"bytes"
	"encoding/xml"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample() *Report {
	r := &Report{Title: "shakedown gate", Target: "http://127.0.0.1:8010", Started: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), Duration: 42 * time.Second}
	r.Add(
		Check{Layer: "smoke", Stage: "smoke", Name: "readiness", Status: Pass, Summary: "200 in 3ms", Duration: 3 * time.Millisecond},
		Check{Layer: "e2e", Stage: "e2e", Name: "events sent == events stored", Status: Pass, Summary: "2000 of 2000 stored"},
		Check{Layer: "load", Stage: "load", Name: "p(95)<1ms", Status: Fail, Summary: "p(95) 12ms, want < 1ms",
			Measurements: []Measurement{{Name: "p(95)", Value: 12, Unit: "ms", Limit: "< 1ms"}, {Name: "rate", Value: 200, Unit: "/s", Pass: true}},
			Evidence:     []string{"slowest: POST /e/ 40ms"}},
		Check{Layer: "load", Stage: "load", Name: "errors<1%", Status: Pass, Summary: "0%"},
		Check{Layer: "golive", Stage: "go-live", Name: "TLS certificate", Status: Skip, Summary: "http target: no TLS to check"},
	)
	r.Finish()
	return r
}

func TestFinishDerivesVerdictStagesAndFirstFailure(t *testing.T) {
	r := sample()
	if r.Verdict != Fail || r.FirstFailure == nil || r.FirstFailure.Name != "p(95)<1ms" {
		t.Fatalf("verdict %s, first failure %+v", r.Verdict, r.FirstFailure)
	}
	want := []StageResult{{Name: "smoke", Status: Pass, Checks: 1}, {Name: "e2e", Status: Pass, Checks: 1},
		{Name: "load", Status: Fail, Checks: 2, Failed: 1}, {Name: "go-live", Status: Skip, Checks: 1}}
	if len(r.Stages) != len(want) {
		t.Fatalf("stages %+v", r.Stages)
	}
	for i, w := range want {
		g := r.Stages[i]
		if g.Name != w.Name || g.Status != w.Status || g.Checks != w.Checks || g.Failed != w.Failed {
			t.Errorf("stage %d = %+v, want %+v", i, g, w)
		}
	}
	r.Checks[2].Status, r.Checks[2].Summary = Pass, "held"
	r.Finish()
	if r.Verdict != Pass || r.FirstFailure != nil {
		t.Errorf("all held or skipped: verdict %s", r.Verdict)
	}
	empty := &Report{}
	empty.Finish()
	if empty.Verdict != Error {
		t.Errorf("a report without checks has verdict %s, want error", empty.Verdict)
	}
	skips := &Report{Checks: []Check{{Stage: "e2e", Name: "e2e", Status: Skip}, {Stage: "load", Name: "load", Status: Skip}}}
	skips.Finish()
	if skips.Verdict != Error || !strings.Contains(skips.verdictLine(), "nothing was checked") {
		t.Errorf("a report of skips only: verdict %s, %q", skips.Verdict, skips.verdictLine())
	}
	r.Add(Check{Stage: "faults", Name: "clickhouse-kill", Status: Error, Summary: "could not kill"})
	r.Finish()
	if r.Verdict != Error || r.FirstFailure.Stage != "faults" {
		t.Errorf("an error: verdict %s, first failure %+v", r.Verdict, r.FirstFailure)
	}
}

func TestEveryFormatOpensWithTheVerdict(t *testing.T) {
	r := sample()
	for _, format := range FormatNames() {
		var b bytes.Buffer
		if err := r.Write(&b, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out := b.String()
		switch format {
		case "text", "md":
			first := html.UnescapeString(strings.SplitN(out, "\n", 2)[0])
			if !strings.Contains(first, "FAIL") || !strings.Contains(first, "stage load failed: p(95)<1ms") {
				t.Errorf("%s: first line %q does not give the verdict and the failing stage", format, first)
			}
			if !strings.Contains(out, "slowest: POST /e/ 40ms") {
				t.Errorf("%s: the evidence is missing:\n%s", format, out)
			}
		case "html":
			verdict := strings.Index(out, "FAIL · shakedown gate")
			table := strings.Index(out, "<table>")
			if verdict < 0 || table < 0 || verdict > table || !strings.Contains(out, "Stage <b>load</b> failed") {
				t.Errorf("html: the verdict does not come first:\n%s", out)
			}
		case "junit":
			var s struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
				Suites   []struct {
					Name    string `xml:"name,attr"`
					Skipped int    `xml:"skipped,attr"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(b.Bytes(), &s); err != nil || s.Tests != 5 || s.Failures != 1 || len(s.Suites) != 4 || s.Suites[3].Skipped != 1 {
				t.Errorf("junit: %+v, %v\n%s", s, err, out)
			}
		case "json":
			path := filepath.Join(t.TempDir(), "r.json")
			if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			back, err := Read(path)
			if err != nil || back.Verdict != Fail || len(back.Checks) != 5 || back.Checks[2].Measurements[0].Value != 12 {
				t.Errorf("json round trip: %+v, %v", back, err)
			}
		}
	}
	if err := r.Write(&bytes.Buffer{}, "pdf"); err == nil || !strings.Contains(err.Error(), "html, json, junit, md, text") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestReadRefusesWhatIsNotAResult(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a.json": "not json", "b.json": `{"title":"x"}`} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Read(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file was read")
	}
}

func TestNumbersNeverUseExponents(t *testing.T) {
	for v, want := range map[float64]string{12345.6: "12346", 123.4: "123", 12.34: "12.3", 1.234: "1.23", 0.01234: "0.0123", 0: "0", -2.5: "-2.50", 20000: "20000"} {
		if got := Number(v); got != want {
			t.Errorf("Number(%v) = %q, want %q", v, got, want)
		}
	}
	if got := (Measurement{Name: "sent", Value: 20000, Unit: "events"}).String(); got != "sent 20000 events" {
		t.Errorf("measurement %q", got)
	}
}
