package lint

import (
	"fmt"
	"io"
	"slices"
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
	return nil, fmt.Errorf("lint: unknown output format %q; use one of %s", format, strings.Join(Formats(), ", "))
}

// where renders the cells of a finding compactly: "all", "aws,gcp × 1.34.4",
// or a list of cloud@version.
func where(cells []Cell, r Report) string {
	if len(cells) == len(r.Clouds)*len(r.KubeVersions) {
		return "all"
	}
	var clouds, versions []string
	for _, c := range cells {
		if !slices.Contains(clouds, c.Cloud) {
			clouds = append(clouds, c.Cloud)
		}
		if !slices.Contains(versions, c.KubeVersion) {
			versions = append(versions, c.KubeVersion)
		}
	}
	if len(clouds)*len(versions) == len(cells) {
		if len(clouds) == len(r.Clouds) {
			return "k8s " + strings.Join(versions, ",")
		}
		if len(versions) == len(r.KubeVersions) {
			return strings.Join(clouds, ",")
		}
		return strings.Join(clouds, ",") + " × k8s " + strings.Join(versions, ",")
	}
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = c.String()
	}
	return strings.Join(parts, ",")
}
