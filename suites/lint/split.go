package lint

import (
	"sort"
	"strings"

	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// document is one YAML document of a rendered file.
type document struct {
	index int // 1-based position among the file's non-blank documents
	text  string
}

// splitDocuments splits a rendered file into YAML documents with Helm's own
// splitter, the one `helm install` uses: a line starting with "---" ends a
// document, whatever follows it on the line ("---# note" included). Documents
// holding only blanks and comments are dropped, as Helm installs nothing for them.
func splitDocuments(content string) []document {
	parts := releaseutil.SplitManifests(content)
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var docs []document
	for _, k := range keys {
		if text := parts[k]; !blank(text) {
			docs = append(docs, document{index: len(docs) + 1, text: text})
		}
	}
	return docs
}

// blank reports whether a YAML document has nothing but blanks and comments.
func blank(text string) bool {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}
