package lint

// Severity ranks a finding. Only [SeverityError] fails a lint run.
type Severity string

const (
	// SeverityError fails the run: the chart will not install or breaks a rule.
	SeverityError Severity = "error"
	// SeverityWarning is reported but does not fail the run.
	SeverityWarning Severity = "warning"
	// SeverityNotice is informational, e.g. an object that was not schema-checked.
	SeverityNotice Severity = "notice"
)

// rank orders severities from most to least severe.
func (s Severity) rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	default:
		return 2
	}
}
