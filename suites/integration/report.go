package integration

import (
	"time"
)

// Status is a row's outcome.
type Status string

const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Step is one stage of the flow run for each Kubernetes version × cloud.
type Step string

const (
	// StepCluster starts the version's cluster (one row per version, no cloud).
	StepCluster Step = "cluster"
	// StepDryRun renders the working-tree chart against the server and
	// server-side dry-runs every object.
	StepDryRun Step = "dry-run"
	// StepInstall installs the previous release (or the working tree) and
	// waits; then every workload must be Ready.
	StepInstall Step = "install"
	// StepAssert runs the assertions: endpoints, PVCs, encryption,
	// NetworkPolicies, ServiceAccount privileges.
	StepAssert Step = "assert"
	// StepTraffic sends events through port-forwards to the installed release and
	// checks they are stored (Options.Traffic; it needs pods that really run).
	StepTraffic Step = "traffic"
	// StepUpgrade upgrades to the working-tree chart and waits.
	StepUpgrade Step = "upgrade"
	// StepRollback rolls back to the installed revision and waits.
	StepRollback Step = "rollback"
	// StepUninstall uninstalls and checks nothing is left behind.
	StepUninstall Step = "uninstall"
)

// AllSteps is the full flow on any cluster, in order. StepTraffic joins it, after
// StepAssert, when Options.Traffic is set.
func AllSteps() []Step {
	return []Step{StepDryRun, StepInstall, StepAssert, StepUpgrade, StepRollback, StepUninstall}
}

// stepOrder is every step in the order they run.
func stepOrder() []Step {
	return []Step{StepDryRun, StepInstall, StepAssert, StepTraffic, StepUpgrade, StepRollback, StepUninstall}
}

// Row is the outcome of one step for one Kubernetes version × cloud.
type Row struct {
	KubeVersion string        `json:"kubernetes"`
	Cloud       string        `json:"cloud,omitempty"`
	Step        Step          `json:"step"`
	Status      Status        `json:"status"`
	Duration    time.Duration `json:"duration_ns"`
	// Message explains a failure or skip; for passes it may hold details.
	Message string `json:"message,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Chart    string        `json:"chart"`
	From     string        `json:"from,omitempty"`
	Rows     []Row         `json:"rows"`
	Duration time.Duration `json:"duration_ns"`
}

// Failed reports whether any row failed.
func (r Report) Failed() bool {
	for _, row := range r.Rows {
		if row.Status == StatusFail {
			return true
		}
	}
	return false
}

// Row returns the row of a version, cloud and step, if any.
func (r Report) Row(version, cloud string, step Step) (Row, bool) {
	for _, row := range r.Rows {
		if row.KubeVersion == version && row.Cloud == cloud && row.Step == step {
			return row, true
		}
	}
	return Row{}, false
}

// Count tallies the rows by status.
func (r Report) Count() map[Status]int {
	c := map[Status]int{}
	for _, row := range r.Rows {
		c[row.Status]++
	}
	return c
}
