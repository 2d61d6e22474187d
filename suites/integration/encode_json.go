package integration

import (
	"encoding/json"
	"fmt"
	"io"
)

// EncodeJSON writes the report as indented JSON; durations are nanoseconds.
func EncodeJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("integration: write JSON report: %w", err)
	}
	return nil
}
