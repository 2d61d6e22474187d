package integration

import (
	"fmt"

	ri "helm.sh/helm/v4/pkg/release"
	release "helm.sh/helm/v4/pkg/release/v1"
)

// Release is what a Helm action left in the cluster.
type Release struct {
	Name         string
	Namespace    string
	Revision     int
	Chart        string // chart name
	ChartVersion string
	Status       string
	// Manifest is the rendered YAML of the release's objects (hooks excluded).
	Manifest string
}

// fromHelm converts a Helm release record.
func fromHelm(r ri.Releaser) (*Release, error) {
	rel, ok := r.(*release.Release)
	if !ok || rel == nil {
		return nil, fmt.Errorf("integration: unexpected Helm release type %T", r)
	}
	out := &Release{Name: rel.Name, Namespace: rel.Namespace, Revision: rel.Version, Manifest: rel.Manifest}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		out.Chart, out.ChartVersion = rel.Chart.Metadata.Name, rel.Chart.Metadata.Version
	}
	if rel.Info != nil {
		out.Status = rel.Info.Status.String()
	}
	return out, nil
}
