package kubeschema

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
)

// Spec is the OpenAPI spec of one Kubernetes version. It parses the file of
// a group-version the first time an object of it is validated. Safe for
// concurrent use; drop it (and [Source.Release] it) to free its memory.
type Spec struct {
	version string
	files   specFiles
	formats strfmt.Registry // empty: formats are checked by node, not kube-openapi

	mu       sync.Mutex
	cur      *schemas            // replaced, never changed, once published
	parsed   map[string]bool     // group-versions parsed ("apps/v1"; "*" for swagger.json)
	served   map[string][]string // kinds of a group-version, from scanKinds
	rules    map[string][]enumRule
	rulesErr error
	rulesSet bool
}

// schemas is an immutable snapshot of the parsed definitions of a Spec.
type schemas struct {
	defs  map[string]*spec.Schema
	kinds map[gvk]string // served kind → definition name
}

func newSpec(v string, files specFiles) *Spec {
	return &Spec{
		version: v,
		files:   files,
		formats: strfmt.NewSeededFormats(nil, nil),
		cur:     &schemas{defs: map[string]*spec.Schema{}, kinds: map[gvk]string{}},
		parsed:  map[string]bool{},
		served:  map[string][]string{},
	}
}

// Version returns the Kubernetes version of the spec, e.g. "1.34.4".
func (sp *Spec) Version() string { return sp.version }

// OpenAPIV3 reports whether the spec comes from OpenAPI v3 files (1.24 and
// newer) rather than the OpenAPI v2 swagger.json.
func (sp *Spec) OpenAPIV3() bool { return sp.files.v3Dir != "" }

// HasEnums reports whether the spec knows enum values (from the generated
// Go definitions of 1.24 and newer); without them no [Enum] problem is found.
func (sp *Spec) HasEnums() bool { return sp.files.goDefs != "" }

// schemasFor returns the definitions after parsing the file of gv, which
// holds the kinds of gv and every definition they use.
func (sp *Spec) schemasFor(gv schema.GroupVersion) (*schemas, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	key, file, only := "*", sp.files.v2File, (*gvk)(nil)
	if sp.files.v3Dir != "" {
		key = gv.String()
		file = filepath.Join(sp.files.v3Dir, v3FileName(gv.Group, gv.Version))
		only = &gvk{Group: gv.Group, Version: gv.Version}
	}
	if sp.parsed[key] {
		return sp.cur, nil
	}
	if !isFile(file) {
		sp.parsed[key] = true // not served by this version
		return sp.cur, nil
	}
	rules, err := sp.enumRules()
	if err != nil {
		return nil, err
	}
	old := sp.cur
	pf, err := parseFile(file, only, func(name string) bool { return old.defs[name] != nil }, rules)
	if err != nil {
		return nil, fmt.Errorf("kubeschema: Kubernetes %s: read the spec of %s: %w (is the module cache intact? `go clean -modcache` and retry)", sp.version, gv, err)
	}
	next := &schemas{defs: make(map[string]*spec.Schema, len(old.defs)+len(pf.defs)), kinds: make(map[gvk]string, len(old.kinds)+len(pf.kinds))}
	for k, v := range old.defs {
		next.defs[k] = v
	}
	for k, v := range pf.defs {
		next.defs[k] = v
	}
	for k, v := range old.kinds {
		next.kinds[k] = v
	}
	for k, v := range pf.kinds {
		next.kinds[k] = v
	}
	sp.cur = next
	sp.parsed[key] = true
	return next, nil
}

// enumRules loads the enum values once; sp.mu is held.
func (sp *Spec) enumRules() (map[string][]enumRule, error) {
	if !sp.rulesSet && sp.files.goDefs != "" {
		sp.rules, sp.rulesErr = readEnums(sp.files.goDefs)
		if sp.rulesErr != nil {
			sp.rulesErr = fmt.Errorf("kubeschema: Kubernetes %s: read enum values: %w", sp.version, sp.rulesErr)
		}
	}
	sp.rulesSet = true
	return sp.rules, sp.rulesErr
}

// Serves reports whether this version serves kind in apiVersion, e.g.
// ("apps/v1", "Deployment") or ("v1", "Service").
func (sp *Spec) Serves(apiVersion, kind string) (bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return false, fmt.Errorf("kubeschema: apiVersion %q: %w", apiVersion, err)
	}
	kinds, err := sp.kindsOf(gv)
	if err != nil {
		return false, err
	}
	return slices.Contains(kinds, kind), nil
}

// APIVersionsFor lists the apiVersions of group that serve kind on this
// version, preferred first (v1, v1beta2, v1beta1, v1alpha1), e.g.
// ("flowcontrol.apiserver.k8s.io", "FlowSchema") on 1.28 gives
// [flowcontrol.apiserver.k8s.io/v1beta3 flowcontrol.apiserver.k8s.io/v1beta2].
// The core group is "".
func (sp *Spec) APIVersionsFor(group, kind string) ([]string, error) {
	var versions []string
	if sp.files.v3Dir != "" {
		gvs, err := v3GroupVersions(sp.files.v3Dir)
		if err != nil {
			return nil, fmt.Errorf("kubeschema: Kubernetes %s: list group-versions: %w", sp.version, err)
		}
		for _, gv := range gvs {
			if gv[0] != group {
				continue
			}
			kinds, err := sp.kindsOf(schema.GroupVersion{Group: gv[0], Version: gv[1]})
			if err != nil {
				return nil, err
			}
			if slices.Contains(kinds, kind) {
				versions = append(versions, gv[1])
			}
		}
	} else {
		if _, err := sp.kindsOf(schema.GroupVersion{Group: group}); err != nil {
			return nil, err
		}
		sp.mu.Lock()
		for key, kinds := range sp.served {
			gv, _ := schema.ParseGroupVersion(key)
			if gv.Group == group && slices.Contains(kinds, kind) {
				versions = append(versions, gv.Version)
			}
		}
		sp.mu.Unlock()
	}
	sort.Slice(versions, func(i, j int) bool { return version.CompareKubeAwareVersionStrings(versions[i], versions[j]) > 0 })
	out := make([]string, len(versions))
	for i, v := range versions {
		out[i] = schema.GroupVersion{Group: group, Version: v}.String()
	}
	return out, nil
}

// kindsOf returns the kinds gv serves, scanning its file once.
func (sp *Spec) kindsOf(gv schema.GroupVersion) ([]string, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	key := gv.String()
	if kinds, ok := sp.served[key]; ok {
		return kinds, nil
	}
	if sp.files.v3Dir == "" {
		if sp.served["*"] != nil {
			return nil, nil // swagger.json scanned: gv not served
		}
		found, err := scanKinds(sp.files.v2File, nil)
		if err != nil {
			return nil, fmt.Errorf("kubeschema: Kubernetes %s: read kinds: %w", sp.version, err)
		}
		sp.served["*"] = []string{}
		for _, k := range found {
			sp.served[k.apiVersion()] = append(sp.served[k.apiVersion()], k.Kind)
		}
		return sp.served[key], nil
	}
	var kinds []string
	if sp.parsed[key] {
		for k := range sp.cur.kinds {
			if k.Group == gv.Group && k.Version == gv.Version {
				kinds = append(kinds, k.Kind)
			}
		}
	} else {
		found, err := scanKinds(filepath.Join(sp.files.v3Dir, v3FileName(gv.Group, gv.Version)), &gvk{Group: gv.Group, Version: gv.Version})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("kubeschema: Kubernetes %s: read kinds of %s: %w", sp.version, gv, err)
		}
		for _, k := range found {
			kinds = append(kinds, k.Kind)
		}
	}
	sort.Strings(kinds)
	kinds = slices.Compact(kinds)
	if kinds == nil {
		kinds = []string{}
	}
	sp.served[key] = kinds
	return kinds, nil
}

// describe names a kind for messages: "apps/v1 Deployment on Kubernetes 1.28.15".
func (sp *Spec) describe(k gvk) string {
	return strings.TrimSpace(k.apiVersion() + " " + k.Kind + " on Kubernetes " + sp.version)
}
