package lint

import "strings"

// document is one YAML document of a rendered file.
type document struct {
	index int // 1-based position among the file's non-blank documents
	text  string
}

// splitDocuments splits a rendered file on "---" separator lines, like Helm,
// dropping documents that hold only blanks and comments.
func splitDocuments(content string) []document {
	var (
		docs []document
		cur  strings.Builder
	)
	flush := func() {
		if text := cur.String(); !blank(text) {
			docs = append(docs, document{index: len(docs) + 1, text: text})
		}
		cur.Reset()
	}
	for line := range strings.Lines(content) {
		if strings.HasPrefix(line, "---") && strings.TrimRight(line[3:], " \t\r\n") == "" {
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
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
