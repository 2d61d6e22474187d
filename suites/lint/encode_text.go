package lint

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// EncodeText writes one line per finding, then the waivers and a summary:
//
//	ERROR   SD006 Deployment/web (templates/web.yaml) [all]: container "web": image "nginx:latest" uses the mutable tag latest; fix: use an explicit version tag ...
func EncodeText(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	for _, f := range r.Findings {
		label := strings.ToUpper(string(f.Severity))
		if f.Waived {
			label = "WAIVED"
		}
		subject := f.Object.String()
		switch {
		case subject != "" && f.File != "":
			subject += " (" + f.File + ")"
		case subject == "":
			subject = f.File
		}
		if subject == "" {
			subject = "chart"
		}
		if f.Hook != "" {
			subject += " [helm hook: " + f.Hook + "]"
		}
		line := fmt.Sprintf("%-7s %s %s [%s]: %s", label, f.Rule, subject, where(f.Cells, r), f.Message)
		if f.Waived {
			line += fmt.Sprintf(" (waived%s)", prefixed(": ", f.WaiverReason))
		} else if f.Fix != "" && f.Severity != SeverityNotice {
			line += "; fix: " + f.Fix
		}
		fmt.Fprintln(bw, line)
	}
	if len(r.Waivers) > 0 {
		fmt.Fprintln(bw, "waivers:")
		for _, wv := range r.Waivers {
			fmt.Fprintf(bw, "  %s %s (%s) used %d times%s%s\n", wv.Rule, wv.Object, wv.File, wv.Used,
				prefixed(": ", wv.Reason), prefixed(" — ", wv.Problem))
		}
	}
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(bw, "shakedown lint %s: %s: %s\n", verdict, r.Chart, r.Summary())
	return bw.Flush()
}

// prefixed returns prefix+s, or "" when s is empty.
func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
