package junit

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestCountsAndRoundTrip(t *testing.T) {
	var root Suites
	s := Suite{Name: "aws@1.34.4"}
	s.Add(Case{Name: "ok", Classname: "c", Time: Seconds(1500 * time.Millisecond)})
	s.Add(Case{Name: "bad", Classname: "c", Failure: &Problem{Message: "SD006", Text: "image <latest> & co"}})
	s.Add(Case{Name: "broken", Classname: "c", Error: &Problem{Message: "render"}})
	root.Add(s)
	if root.Tests != 3 || root.Failures != 1 || root.Errors != 1 || s.Time != Seconds(1500*time.Millisecond) {
		t.Fatalf("counts: %+v", root)
	}
	var buf bytes.Buffer
	if err := Write(&buf, root); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, xml.Header) || !strings.Contains(out, `time="1.500"`) {
		t.Fatalf("unexpected XML:\n%s", out)
	}
	var back struct {
		Tests  int `xml:"tests,attr"`
		Suites []struct {
			Cases []struct {
				Failure *struct {
					Text string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Tests != 3 || back.Suites[0].Cases[1].Failure.Text != "image <latest> & co" {
		t.Fatalf("round trip lost data: %+v", back)
	}
}
