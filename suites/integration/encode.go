package integration

import (
	"fmt"
	"io"
	"strings"
)

// Encoder writes a report in one format.
type Encoder func(w io.Writer, r Report) error

// Formats lists the formats of [EncoderFor].
func Formats() []string { return []string{"text", "json", "junit", "md", "html"} }

// EncoderFor returns the encoder of a format named in [Formats].
func EncoderFor(format string) (Encoder, error) {
	switch format {
	case "text", "":
		return EncodeText, nil
	case "json":
		return EncodeJSON, nil
	case "junit":
		return EncodeJUnit, nil
	case "md":
		return EncodeMarkdown, nil
	case "html":
		return EncodeHTML, nil
	}
	return nil, fmt.Errorf("integration: unknown output format %q (fix: use one of %s)", format, strings.Join(Formats(), ", "))
}
