package integration

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// EncodeText writes a table, one row per version × cloud × step with its
// duration, then the failure messages in full and a summary line.
func EncodeText(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KUBERNETES\tCLOUD\tSTEP\tSTATUS\tDURATION\tMESSAGE")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.KubeVersion, orDash(row.Cloud), row.Step, strings.ToUpper(string(row.Status)),
			row.Duration.Round(10*time.Millisecond), strings.TrimPrefix(firstLine(row.Message), ": "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("integration: write text report: %w", err)
	}
	for _, row := range r.Rows {
		if row.Status == StatusFail && strings.Contains(row.Message, "\n") {
			fmt.Fprintf(w, "\n%s %s %s failed:\n%s\n", row.KubeVersion, orDash(row.Cloud), row.Step, row.Message)
		}
	}
	c := r.Count()
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped in %s\n", c[StatusPass], c[StatusFail], c[StatusSkip], r.Duration.Round(10*time.Millisecond))
	return err
}
