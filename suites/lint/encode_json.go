package lint

import (
	"encoding/json"
	"io"
)

// EncodeJSON writes the report as indented JSON, with a "failed" verdict and counts.
func EncodeJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Failed bool   `json:"failed"`
		Counts Counts `json:"counts"`
		Report
	}{r.Failed(), r.Count(), r})
}
