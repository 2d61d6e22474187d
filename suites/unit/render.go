package unit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
)

// Defaults used when a suite does not say otherwise (helm-unittest's).
const (
	DefaultReleaseName      = "RELEASE-NAME"
	DefaultReleaseNamespace = "NAMESPACE"
	// DefaultKubeVersion is fixed so results do not depend on which
	// client-go the binary was built with.
	DefaultKubeVersion = "v1.30.0"
)

// renderInput is everything one render depends on; it doubles as the
// render cache key (values are plain YAML-decoded data).
type renderInput struct {
	Templates    []string         `json:"t"` // chart template names kept, e.g. templates/x.yaml
	Values       map[string]any   `json:"v"`
	Release      releaseSpec      `json:"r"`
	Capabilities capabilitiesSpec `json:"c"`
	Chart        chartSpec        `json:"m"`
	// Asserted lists the rendered names that errors in partials are
	// attributed to (helm-unittest attributes them to the asserted files).
	Asserted []string `json:"a"`
}

// rendered is the outcome of one render.
type rendered struct {
	// docs maps rendered file names (chart/templates/x.yaml) to documents.
	docs map[string][]*document
	// failed is true when the engine or values validation failed.
	failed bool
	// err is a render error that could not be tied to a template file
	// (schema validation, kubeVersion, parse errors); failedTemplate checks it.
	err error
}

// renderChart renders the selected templates of ch with in's settings.
func renderChart(ctx context.Context, ch *chart.Chart, in renderInput) (*rendered, error) {
	c := *ch
	md := *ch.Metadata
	c.Metadata = &md
	if in.Chart.Version != "" {
		md.Version = in.Chart.Version
	}
	if in.Chart.AppVersion != "" {
		md.AppVersion = in.Chart.AppVersion
	}
	keep := make(map[string]bool, len(in.Templates))
	for _, t := range in.Templates {
		keep[t] = true
	}
	c.Templates = nil
	for _, t := range ch.Templates {
		if keep[t.Name] || strings.HasPrefix(path.Base(t.Name), "_") {
			c.Templates = append(c.Templates, t)
		}
	}

	caps, err := capabilities(in.Capabilities)
	if err != nil {
		return nil, err
	}
	if md.KubeVersion != "" && !chartutil.IsCompatibleRange(md.KubeVersion, caps.KubeVersion.String()) {
		return &rendered{failed: true, docs: map[string][]*document{}, err: fmt.Errorf(
			"chart requires kubeVersion: %s which is incompatible with Kubernetes %s", md.KubeVersion, caps.KubeVersion.Version)}, nil
	}
	opts := common.ReleaseOptions{
		Name:      orDefault(in.Release.Name, DefaultReleaseName),
		Namespace: orDefault(in.Release.Namespace, DefaultReleaseNamespace),
		Revision:  in.Release.Revision,
		IsInstall: !in.Release.Upgrade,
		IsUpgrade: in.Release.Upgrade,
	}
	vals, err := util.ToRenderValues(&c, in.Values, opts, caps)
	if err != nil {
		return &rendered{failed: true, docs: map[string][]*document{}, err: err}, nil
	}
	out, err := engine.Engine{}.RenderWithContext(ctx, &c, vals)
	if err != nil {
		return renderFailure(err, in.Asserted)
	}
	docs := make(map[string][]*document, len(out))
	for name, text := range out {
		d, err := parseOutput(name, text)
		if err != nil {
			return nil, err
		}
		if d != nil {
			docs[name] = d
		}
	}
	return &rendered{docs: docs}, nil
}

// capabilities builds the cluster capabilities a case renders against.
func capabilities(spec capabilitiesSpec) (*common.Capabilities, error) {
	caps := common.DefaultCapabilities.Copy()
	version := DefaultKubeVersion
	if spec.MajorVersion != "" || spec.MinorVersion != "" {
		version = fmt.Sprintf("v%s.%s.0", orDefault(spec.MajorVersion, "1"), orDefault(spec.MinorVersion, "0"))
	}
	kv, err := common.ParseKubeVersion(version)
	if err != nil {
		return nil, fmt.Errorf("capabilities %s is not a Kubernetes version: %w (set majorVersion and minorVersion as numbers)", version, err)
	}
	caps.KubeVersion = *kv
	if len(spec.APIVersions) > 0 {
		caps.APIVersions = append(append(common.VersionSet{}, caps.APIVersions...), spec.APIVersions...)
	}
	return caps, nil
}

// renderErrorRE pulls file and message out of "execution error at
// (chart/templates/x.yaml:3:4): message", the way helm-unittest does.
var renderErrorRE = regexp.MustCompile(`^.+(?: |\()(.+):\d+:\d+\)?:(?:.+:)* (.+)$`)

// renderFailure turns an engine error into per-file raw documents so that
// failedTemplate can match it; errors in partials go to the asserted files.
func renderFailure(err error, asserted []string) (*rendered, error) {
	m := renderErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &rendered{failed: true, docs: map[string][]*document{}, err: err}, nil
	}
	d, derr := newRawDocument(m[2])
	if derr != nil {
		return nil, derr
	}
	docs := map[string][]*document{}
	if strings.HasPrefix(path.Base(m[1]), "_") {
		for _, name := range asserted {
			docs[name] = []*document{d}
		}
	} else {
		docs[m[1]] = []*document{d}
	}
	return &rendered{failed: true, docs: docs}, nil
}

// parseOutput splits one rendered file into documents.
func parseOutput(name, text string) ([]*document, error) {
	switch path.Ext(name) {
	case ".yaml", ".yml", ".tpl":
		return parseYAMLDocuments(name, text)
	case ".txt":
		d, err := newRawDocument(text)
		if err != nil {
			return nil, err
		}
		return []*document{d}, nil
	}
	return nil, nil
}

// parseYAMLDocuments decodes every non-empty document of a YAML stream.
func parseYAMLDocuments(name, text string) ([]*document, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	docs := []*document{}
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, fmt.Errorf("rendered %s is not valid YAML: %w (fix the template's indentation or quoting)", name, err)
		}
		var obj map[string]any
		if err := n.Decode(&obj); err != nil {
			return nil, fmt.Errorf("rendered %s holds a document that is not a mapping: %w", name, err)
		}
		if len(obj) == 0 {
			continue
		}
		docs = append(docs, &document{node: &n, obj: obj})
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
